"""train: the bundled timm trainer, for the teacher and the noised students."""
from __future__ import annotations

from typing import Annotated, Any

import typer

from plabel.cli import _options as opt
from plabel.cli._fields import with_fields
from plabel.cli._output import emitted, info, print_table
from plabel.cli.app import command
from plabel.train.options import TRAIN, TrainOptions


@command()
@with_fields(TrainOptions, after={"resume": "skip_missing"})
def train(
    round_: opt.Round,
    fields: dict[str, Any],
    resume: Annotated[
        bool,
        typer.Option(
            "--resume/--no-resume",
            help="Continue a killed run of the same options from its last epoch, or start it over.",
            rich_help_panel=TRAIN,
        ),
    ] = True,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
) -> None:
    """Train round R's model: the teacher (round 0) or a noised student on a manifest."""
    from plabel.train import train as run

    options = TrainOptions(round=round_, **fields)
    r = run(opt.open_ws(workspace), options, progress=opt.progress(json_output), resume=resume)
    if emitted(r, json_output):
        return
    if r.already_trained:
        info(f"Already trained: checkpoint {r.checkpoint_id} (round {r.round}) has these options and data.")
        return
    if r.resumed_from_epoch is not None:
        info(f"Resumed at epoch {r.resumed_from_epoch + 1}.")
    print_table(
        f"Round {r.round} {r.kind}",
        ["epoch", "loss", "lab_loss", "unl_loss", "lr", "img/s", "val top1", "val top5"],
        [
            [
                h["epoch"] + 1,
                h["loss"],
                h["lab_loss"],
                h["unl_loss"],
                h["lr"],
                round(h["images_per_s"]),
                h["val_top1"],
                h["val_top5"],
            ]
            for h in r.history
        ],
    )
    if r.skipped_missing:
        info(f"Skipped {r.skipped_missing} missing or unreadable images.")
    info(f"Checkpoint {r.checkpoint_id} (round {r.round}) written in {r.seconds:.1f}s.")
