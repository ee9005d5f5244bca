"""select: from a round's predictions to the student's training set (its manifest)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from plabel.cli import _options as opt
from plabel.cli._fields import with_fields
from plabel.cli._output import emit_json, emitted, info, print_table
from plabel.cli.app import command
from plabel.selection import SelectOptions

if TYPE_CHECKING:
    from plabel.selection.options import ClassCount

@command()
@with_fields(SelectOptions, after={"what_if": "dry_run"})
def select(
    round_: opt.OptionalRound = None,
    fields: dict[str, Any] | None = None,
    what_if: Annotated[
        bool, opt.option("Per class and threshold: images kept, precision on val, true precision; write nothing.")
    ] = False,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
) -> None:
    """Select round R's pseudo labels (Noisy Student rule) and write round R's manifest."""
    from plabel.selection import select as run
    from plabel.selection import threshold_what_if

    ws, round_ = opt.open_round(workspace, round_)
    given = dict(fields or {})
    options = SelectOptions(round=round_, **{**given, "dry_run": given.get("dry_run", False) or what_if})
    if what_if:
        _print_what_if(threshold_what_if(ws, options), json_output)
        return
    r = run(ws, options, progress=opt.progress(json_output))
    if emitted(r, json_output):
        return
    print_table(
        f"Round {r.round} selection ({options.balance}, N = {r.per_class}{' auto' if r.per_class_auto else ''}, "
        f"threshold {options.threshold}"
        f"{f', target precision {options.target_precision:g}' if options.threshold == 'auto' else ''})",
        ["class", "threshold", "val precision (bound)", "predicted", "above threshold", "after dedup", "selected",
         "copies", "cutoff"],
        [
            [
                c.name,
                _threshold(c),
                "-" if c.val_precision is None else f"{c.val_precision:.3f} ({c.val_lower_bound:.3f})",
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
    if r.statement:
        info(r.statement[0].upper() + r.statement[1:] + ".")
    if r.manifest_path:
        info(f"Manifest {r.manifest_path} (sha256 {r.manifest_hash}).")
    if r.dry_run:
        _print_what_if(threshold_what_if(ws, options), False)


def _threshold(c: ClassCount) -> str:
    if c.threshold == float("inf"):
        return "none"
    return f"{c.threshold:.4f}" + ("" if c.threshold_source == "given" else f" ({c.threshold_source})")


def _print_what_if(rows: list[dict[str, Any]], json_output: bool) -> None:
    if json_output:
        emit_json(rows)
        return
    print_table(
        "What if (above the threshold after dedup, before balancing)",
        ["class", "threshold", "images", "val images", "val precision (bound)", "true precision"],
        [[r["class"], r["threshold"], r["images"], r["val_images"],
          "-" if r["val_precision"] is None else f"{r['val_precision']:.3f} ({r['val_lower_bound']:.3f})",
          "-" if r["true_precision"] is None else f"{r['true_precision']:.3f}"] for r in rows],
    )
