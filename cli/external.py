"""import-predictions: predictions made elsewhere (timm's inference.py, any model) as a round."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from plabel.cli import _options as opt
from plabel.cli._fields import with_fields
from plabel.cli._output import emitted, info, say_removed
from plabel.cli.app import command
from plabel.external import ImportOptions


@command("import-predictions")
@with_fields(ImportOptions)
def import_predictions(
    file: Annotated[Path, typer.Argument(help="Predictions: .parquet, .csv, .json or .jsonl (timm's inference.py "
                                              "outputs as they are, or columns path/image_id and probs/logits).")],
    round: opt.Round = 0,
    fields: dict[str, Any] | None = None,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
) -> None:
    """Import predictions made elsewhere as round R's, with an external checkpoint row for lineage."""
    from plabel.external import import_predictions as run

    ws = opt.open_ws(workspace)
    r = run(ws, ImportOptions(file=file, round=round, **(fields or {})))
    if emitted(r, json_output):
        return
    say_removed(r.round, r.removed)
    if r.already_imported:
        info(f"Nothing new: round {r.round} holds these predictions already (external checkpoint {r.checkpoint_id}).")
        return
    splits = ", ".join(f"{n} {s}" for s, n in sorted(r.splits.items()))
    info(f"Imported {r.rows} predictions as round {r.round} ({splits}); external checkpoint {r.checkpoint_id}"
         + (f"; {r.skipped_unknown} rows named no image and were left out" if r.skipped_unknown else "") + ".")
    for note in r.notes:
        info(f"Note: {note}")
