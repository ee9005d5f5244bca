"""dedup: exact and near duplicates of a round's unlabeled images, and val/test contamination."""
from __future__ import annotations

from typing import Annotated

import typer

from plabel.cli import _options as opt
from plabel.cli._output import emitted, info
from plabel.cli.app import command


@command()
def dedup(
    round_: opt.OptionalRound = None,
    similarity: Annotated[
        float | None,
        typer.Option(
            help=(
                "Cosine similarity at or above which two images are near duplicates (default 0.995, see "
                "docs/selection.md)."
            )
        ),
    ] = None,
    neighbours: Annotated[int, opt.option("Nearest neighbours searched per image.", min=1)] = 16,
    exact_limit: Annotated[
        int, opt.option("Vectors up to which search is exact (IndexFlatIP); above, an IVF index.", min=1)
    ] = 200_000,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
):
    """Find exact and near duplicates of round R's unlabeled images, and val/test contamination."""
    from plabel.dedup import DedupOptions
    from plabel.dedup import dedup as run

    ws, round_ = opt.open_round(workspace, round_)
    options = DedupOptions(similarity=similarity, neighbours=neighbours, exact_limit=exact_limit)
    r = run(ws, round_, options, progress=opt.progress(json_output))
    if emitted(r, json_output):
        return
    info(
        f"Round {r.round} (similarity >= {r.similarity}, index {r.index}): {r.exact} exact duplicates across splits, "
        f"{r.near_groups} near-duplicate groups ({r.near_members} images), {r.contaminated} contaminated with "
        f"val/test, {r.train_duplicates} duplicating train images; {r.excluded} will not be selected."
    )
