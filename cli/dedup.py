"""dedup: exact and near duplicates of a round's unlabeled images, and val/test contamination."""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from plabel.cli import _options as opt
from plabel.cli._fields import with_fields
from plabel.cli._output import emit_json, emitted, info, print_table
from plabel.cli.app import command
from plabel.dedup.options import DedupOptions

if TYPE_CHECKING:
    from plabel.workspace import Workspace

@command()
@with_fields(DedupOptions, after={"what_if": "dry_run"})
def dedup(
    round_: opt.OptionalRound = None,
    fields: dict[str, Any] | None = None,
    what_if: Annotated[bool, opt.option("Images excluded per class at a range of thresholds; writes nothing.")] = False,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
) -> None:
    """Find exact and near duplicates of round R's unlabeled images, and val/test contamination."""
    from plabel.dedup import dedup as run
    from plabel.dedup import what_if as trial

    ws, round_ = _round(workspace, round_)
    given = dict(fields or {})
    options = DedupOptions(round=round_, **{**given, "dry_run": given.get("dry_run", False) or what_if})
    if what_if:
        _print_what_if(trial(ws, options, progress=opt.progress(json_output)), json_output)
        return
    r = run(ws, options, progress=opt.progress(json_output))
    if emitted(r, json_output):
        return
    print_table(f"Round {r.round} thresholds", ["signal", "scope", "threshold", "source", "recall", "est. fpr"],
                [[t["signal"], t["scope"], _num(t["threshold"]), t["source"], f"{t['recall']:.3f}",
                  f"{t['fpr']:.4f}"] for t in r.thresholds])
    removed = ", ".join(f"{n} by {rule}" for rule, n in r.removed_by.items() if n) or "none"
    info(
        f"{'Dry run: ' if r.dry_run else ''}{r.pool} pool images; {r.exact} exact duplicates across splits, "
        f"{r.near_groups} near-duplicate groups ({r.near_members} images), {r.contaminated} contaminated with "
        f"val/test, {r.train_duplicates} duplicating train images; {r.excluded} will not be selected ({removed})."
        + (f" {r.labeled_contaminated} labeled train images are copies of val/test images." if r.labeled_contaminated
           else "")
    )


def _round(workspace: Path | None, round_: int | None) -> tuple[Workspace, int]:
    """--round, the newest round with predictions, or before any model round 0 (pixels only): an
    empty workspace still says that no round has predictions."""
    from plabel.dedup import round_before_any_model

    ws = opt.open_ws(workspace)
    if round_ is None and round_before_any_model(ws) == 0:
        info("No round has predictions yet: round 0, pixels only (model-free; pass --round to choose another)")
        return ws, 0
    return opt.open_round(workspace, round_)


def _num(x: float) -> str:
    return "off" if not math.isfinite(x) else f"{x:.4f}"


def _print_what_if(rows: list[dict[str, Any]], json_output: bool) -> None:
    if json_output:
        emit_json(rows)
        return
    print_table("What if", ["signal", "scope", "threshold", "excluded", "per class"],
                [[r["signal"], r["scope"], _num(r["threshold"]) + (" (chosen)" if r["chosen"] else ""),
                  r["excluded"], ", ".join(f"{k} {v}" for k, v in r["per_class"].items())] for r in rows])
