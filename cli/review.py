"""review export / review import: images for people to label in Label Studio, and their labels back."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from plabel.cli import _options as opt
from plabel.cli._fields import with_fields
from plabel.cli._output import emitted, handle_errors, info
from plabel.cli.app import app
from plabel.review.tasks import ReviewExportOptions, ReviewImportOptions

review = typer.Typer(name="review", help="Review by people: Label Studio tasks out, labels back in.",
                     no_args_is_help=True, rich_markup_mode=None)
app.add_typer(review, name="review")


@with_fields(ReviewExportOptions, after={"round": "query"})
def export(
    out: Annotated[Path, typer.Argument(help="The tasks file (.json); the labeling config is written beside it.")],
    fields: dict[str, Any] | None = None,
    round: opt.Round = 0,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
) -> None:
    """Write the images a query picks as Label Studio tasks, pre-annotated with round R's predictions."""
    from plabel.review import export_tasks

    ws = opt.open_ws(workspace)
    r = export_tasks(ws, ReviewExportOptions(round=round, out=str(out), **(fields or {})))
    if emitted(r, json_output):
        return
    info(f"Wrote {r.tasks} tasks ({r.predicted} pre-annotated by round {r.round}) to {r.out}; labeling config: "
         f"{r.label_config}" + (f"; {r.media} shard members written out beside them" if r.media else "")
         + (f"; {r.held_out} held-out images marked as an audit (never trained on)" if r.held_out else "") + ".")
    info(f"In Label Studio, add a Local Files storage for {r.storage_path} (its API body is beside the tasks, "
         "*.local-storage.json; see docs/interop.md).")


@with_fields(ReviewImportOptions)
def import_(
    file: Annotated[Path, typer.Argument(help="Label Studio's JSON export of the annotated tasks.")],
    fields: dict[str, Any] | None = None,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
) -> None:
    """Read annotated tasks back: each labeled image becomes a labeled row of later manifests."""
    from plabel.review import import_annotations

    ws = opt.open_ws(workspace)
    r = import_annotations(ws, ReviewImportOptions(file=file, **(fields or {})))
    if emitted(r, json_output):
        return
    if r.already_imported:
        info(f"Nothing new: this export was imported before (review {r.review_id}).")
        return
    info(f"Imported review {r.review_id}: {r.labeled} images labeled ({r.changed} differ from plabel's proposal), "
         f"{r.unannotated} tasks without an annotation"
         + (f"; {r.held_out} are held-out images (an audit: never trained on)" if r.held_out else "") + ".")


review.command("export")(handle_errors(export))
review.command("import")(handle_errors(import_))
