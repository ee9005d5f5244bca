"""infer: round R's teacher predicts on the unlabeled pool."""
from __future__ import annotations

from typing import Any

from plabel.cli import _options as opt
from plabel.cli._fields import with_fields
from plabel.cli._output import emitted, info, say_removed
from plabel.cli.app import command
from plabel.infer.options import InferOptions


@command()
@with_fields(InferOptions)
def infer(
    round_: opt.OptionalRound = None,
    fields: dict[str, Any] | None = None,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
) -> None:
    """Predict on the unlabeled pool with round R's teacher, into the predictions table."""
    from plabel import checkpoints
    from plabel.infer import infer as run

    given = dict(fields or {})
    ws = opt.open_ws(workspace)
    checkpoint = given.get("checkpoint")
    if checkpoint is not None and round_ is None:
        round_ = checkpoints.find(ws, checkpoint).round
        info(f"Round {round_} (checkpoint {checkpoint}'s round; pass --round to choose another)")
    round_ = opt.resolve_round(ws, round_, "checkpoints", "trained round")
    options = InferOptions(round=round_, **given)
    r = run(ws, options, progress=opt.progress(json_output))
    if emitted(r, json_output):
        return
    if r.already_complete:
        info(
            f"Round {r.round} already has {r.rows} predictions (checkpoint {r.checkpoint_id}); --overwrite "
            f"recomputes it."
        )
        return
    resumed = f", {r.resumed} kept from an interrupted run" if r.resumed else ""
    say_removed(r.round, r.removed)
    info(
        f"Round {r.round}: {r.predicted} images predicted with checkpoint {r.checkpoint_id}{resumed}, "
        f"{r.rejected} unreadable ({r.images_per_s:,.0f} images/s); {r.rows} rows, {r.bytes_on_disk / 1e6:.2f} MB."
    )
