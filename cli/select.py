"""select: from a round's predictions to the student's training set (its manifest)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from plabel.cli import _options as opt
from plabel.cli._output import emit_json, emitted, info, print_table
from plabel.cli.app import command
from plabel.selection import SelectOptions

if TYPE_CHECKING:
    from plabel.selection.options import ClassCount

DEFAULTS = SelectOptions(round=0)  # the library's defaults are the CLI's: one owner


@command()
def select(
    round_: opt.OptionalRound = None,
    threshold: Annotated[
        str,
        opt.option(
            "Keep predictions with confidence >= threshold (paper: 0.3), or auto: per class, the lowest threshold "
            "whose precision on val reaches --target-precision."
        ),
    ] = str(DEFAULTS.threshold),
    target_precision: Annotated[
        float, opt.option("--threshold auto: the precision the val estimate's lower bound must reach.")
    ] = DEFAULTS.target_precision,
    below_target: Annotated[
        str, opt.option("--threshold auto, a class without a guarantee of its own: whole (its most precise "
                        "stretch while the whole selection's bound still reaches the target), best (always) or "
                        "exclude (never).")
    ] = DEFAULTS.below_target,
    delta: Annotated[
        float, opt.option("--threshold auto: the chance that a bound it states does not hold (bounds at 1 - delta).")
    ] = DEFAULTS.delta,
    per_class: Annotated[
        str,
        opt.option("Images per class N, or auto (the median class size of the deduplicated pool, before the "
                   "threshold)."),
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
    dry_run: Annotated[bool, opt.option("Show the selection and the what-if; write nothing.", "--dry-run")] = False,
    what_if: Annotated[
        bool, opt.option("Per class and threshold: images kept, precision on val, true precision; write nothing.")
    ] = False,
    overwrite: Annotated[bool, opt.option("Replace a selection made with other parameters.", "--overwrite")] = False,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
) -> None:
    """Select round R's pseudo labels (Noisy Student rule) and write round R's manifest."""
    from plabel.selection import parse_per_class, parse_threshold, threshold_what_if
    from plabel.selection import select as run

    ws, round_ = opt.open_round(workspace, round_)
    options = SelectOptions(
        round=round_, threshold=parse_threshold(threshold), per_class=parse_per_class(per_class), balance=balance,
        labels=labels, target_precision=target_precision, below_target=below_target, delta=delta,
        temperature=temperature, seed=seed, keep_duplicates=keep_duplicates, include_labeled=labeled,
        dry_run=dry_run or what_if, overwrite=overwrite,
    )
    if what_if:
        _print_what_if(threshold_what_if(ws, options), json_output)
        return
    r = run(ws, options, progress=opt.progress(json_output))
    if emitted(r, json_output):
        return
    print_table(
        f"Round {r.round} selection ({options.balance}, N = {r.per_class}{' auto' if r.per_class_auto else ''}, "
        f"threshold {threshold}{f', target precision {target_precision:g}' if threshold == 'auto' else ''})",
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
