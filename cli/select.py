"""select: from a round's predictions to the student's training set (its manifest)."""
from __future__ import annotations

from typing import Annotated

import typer

from plabel.cli import _options as opt
from plabel.cli._output import emitted, info, print_table
from plabel.cli.app import command
from plabel.selection import SelectOptions

DEFAULTS = SelectOptions(round=0)  # the library's defaults are the CLI's: one owner


@command()
def select(
    round_: opt.OptionalRound = None,
    threshold: Annotated[float, opt.option("Keep predictions with confidence >= threshold (paper: 0.3).")] = (
        DEFAULTS.threshold
    ),
    per_class: Annotated[
        str, opt.option("Images per class N, or auto (the median of the per-class candidate counts).")
    ] = str(DEFAULTS.per_class),
    balance: Annotated[str, opt.option("topk (paper), copies (official code) or none.")] = DEFAULTS.balance,
    labels: Annotated[str, opt.option("hard (argmax) or soft (the teacher's distribution).")] = DEFAULTS.labels,
    temperature: Annotated[float, opt.option("Soft labels: p ** (1/T), renormalised.")] = DEFAULTS.temperature,
    seed: opt.Seed = DEFAULTS.seed,
    keep_duplicates: Annotated[
        bool,
        typer.Option(
            "--keep-duplicates", help="Keep every member of near-duplicate groups (never val/test contamination)."
        ),
    ] = False,
    labeled: Annotated[bool, opt.option("Include the labeled train images.", "--labeled/--no-labeled")] = True,
    dry_run: Annotated[bool, opt.option("Show the selection; write nothing.", "--dry-run")] = False,
    overwrite: Annotated[bool, opt.option("Replace a selection made with other parameters.", "--overwrite")] = False,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
):
    """Select round R's pseudo labels (Noisy Student rule) and write round R's manifest."""
    from plabel.selection import parse_per_class
    from plabel.selection import select as run

    ws, round_ = opt.open_round(workspace, round_)
    options = SelectOptions(
        round=round_, threshold=threshold, per_class=parse_per_class(per_class), balance=balance, labels=labels,
        temperature=temperature, seed=seed, keep_duplicates=keep_duplicates, include_labeled=labeled, dry_run=dry_run,
        overwrite=overwrite,
    )
    r = run(ws, options, progress=opt.progress(json_output))
    if emitted(r, json_output):
        return
    print_table(
        f"Round {r.round} selection ({options.balance}, N = {r.per_class}{' auto' if r.per_class_auto else ''}, "
        f"threshold {threshold})",
        ["class", "predicted", "above threshold", "after dedup", "selected", "copies", "cutoff"],
        [
            [
                c.name,
                c.predicted,
                c.above_threshold,
                c.after_dedup,
                c.selected,
                c.copies,
                None if c.cutoff is None else round(c.cutoff, 4),
            ]
            for c in r.classes
        ],
    )
    what = "Would select" if r.dry_run else ("Already selected" if r.already_selected else "Selected")
    info(f"{what}: {r.n_pseudo} pseudo-labeled images ({r.n_pseudo_copies} draws per pass) and {r.n_labeled} labeled.")
    if r.manifest_path:
        info(f"Manifest {r.manifest_path} (sha256 {r.manifest_hash}).")
