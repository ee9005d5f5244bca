"""dedup: exact and near duplicates of a round's unlabeled images, and val/test contamination."""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from plabel.cli import _options as opt
from plabel.cli._output import emit_json, emitted, info, print_table
from plabel.cli.app import command
from plabel.dedup.options import DedupOptions

if TYPE_CHECKING:
    from plabel.workspace import Workspace

D = DedupOptions()


def _similarity(what: str) -> object:
    return typer.Option(help=f"{what}: use this similarity instead of the calibrated threshold.")


@command()
def dedup(
    round_: opt.OptionalRound = None,
    recall: Annotated[float, opt.option("Share of synthetic near duplicates a calibrated threshold keeps.")] = D.recall,
    max_clean_loss: Annotated[float, opt.option(
        "Share of a pool without duplicates that dedup may exclude (estimated), groups and contamination together."
    )] = D.max_clean_loss,
    min_precision: Annotated[float, opt.option(
        "Pixels: the estimated share of flagged images that are real duplicates; the threshold rises to keep it "
        "(0: off)."
    )] = D.min_precision,
    similarity: Annotated[float | None, _similarity("Embeddings, within the pool")] = None,
    contamination_similarity: Annotated[float | None, _similarity("Embeddings, against val/test")] = None,
    pixel_similarity: Annotated[float | None, _similarity("Pixel fingerprints, both scopes")] = None,
    pixels: Annotated[bool, opt.option("Compare the ingest fingerprints (model-independent).")] = D.pixels,
    embeddings: Annotated[bool, opt.option(
        "Also compare a teacher's embeddings (semantic duplicates; implied by the embedding options below)."
    )] = D.embeddings,
    embeddings_round: Annotated[
        int | None, opt.option("Round whose embeddings to compare (default: the first with any).", min=0)
    ] = None,
    sample: Annotated[int, opt.option("Pool images made into synthetic positives, per signal.", min=1)] = D.sample,
    seed: Annotated[int, opt.option("Seed of the sample and its synthetic copies.")] = D.seed,
    neighbours: Annotated[int, opt.option("Nearest neighbours searched per image.", min=1)] = D.neighbours,
    exact_limit: Annotated[
        int, opt.option("Vectors up to which search is exact (IndexFlatIP); above, an IVF index.", min=1)
    ] = D.exact_limit,
    dry_run: Annotated[bool, opt.option("Find and count; write nothing.")] = False,
    what_if: Annotated[bool, opt.option("Images excluded per class at a range of thresholds; writes nothing.")] = False,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
) -> None:
    """Find exact and near duplicates of round R's unlabeled images, and val/test contamination."""
    from plabel.dedup import dedup as run
    from plabel.dedup import what_if as trial

    ws, round_ = _round(workspace, round_)
    options = DedupOptions(
        recall=recall, max_clean_loss=max_clean_loss, min_precision=min_precision, similarity=similarity,
        contamination_similarity=contamination_similarity, pixel_similarity=pixel_similarity, pixels=pixels,
        embeddings=embeddings, embeddings_round=embeddings_round, sample=sample, seed=seed, neighbours=neighbours,
        exact_limit=exact_limit, dry_run=dry_run or what_if,
    )
    if what_if:
        _print_what_if(trial(ws, round_, options, progress=opt.progress(json_output)), json_output)
        return
    r = run(ws, round_, options, progress=opt.progress(json_output))
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
