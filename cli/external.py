"""import-predictions: predictions made elsewhere (timm's inference.py, any model) as a round."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from plabel.cli import _options as opt
from plabel.cli._output import emitted, info, say_removed
from plabel.cli.app import command
from plabel.external import OUTPUT_TYPES, ImportOptions

D = ImportOptions(round=0, model_name="")  # D: the library's defaults are the CLI's (one owner)


@command("import-predictions")
def import_predictions(
    file: Annotated[Path, typer.Argument(help="Predictions: .parquet, .csv, .json or .jsonl (timm's inference.py "
                                              "outputs as they are, or columns path/image_id and probs/logits).")],
    round: opt.Round = 0,
    model_name: Annotated[str, opt.option("The model that made the predictions (recorded as the round's teacher).")]
    = "",
    root: Annotated[Path | None, opt.option("Folder that relative paths are relative to (timm's --data-dir); "
                                            "default: the current folder.")] = None,
    output_type: Annotated[str, opt.option(f"One of {', '.join(OUTPUT_TYPES)} (auto: by the column's name).")]
    = D.output_type,
    key_column: Annotated[str | None, opt.option("Column naming the image (default: filename, path or image_id).")]
    = D.key_column,
    skip_unknown: Annotated[bool, opt.option("Leave out rows naming no image of the workspace.", "--skip-unknown")]
    = D.skip_unknown,
    overwrite: Annotated[bool, opt.option("Replace the round's predictions.", "--overwrite")] = D.overwrite,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
) -> None:
    """Import predictions made elsewhere as round R's, with an external checkpoint row for lineage."""
    from plabel.external import import_predictions as run

    ws = opt.open_ws(workspace)
    o = ImportOptions(round=round, model_name=model_name, root=str(root) if root else None, output_type=output_type,
                      key_column=key_column, skip_unknown=skip_unknown, overwrite=overwrite)
    r = run(ws, file, o)
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
