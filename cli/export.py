"""export: a round's manifest as CSV, Parquet, an ImageFolder of links, or WebDataset tar shards."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from plabel.cli import _options as opt
from plabel.cli._fields import with_fields
from plabel.cli._output import emitted, info
from plabel.cli.app import command
from plabel.export import ExportOptions


@command()
@with_fields(ExportOptions)
def export(
    out: Annotated[Path, typer.Argument(help="Where to write: a file (csv, parquet) or a new folder.")],
    round: opt.Round = 0,
    fields: dict[str, Any] | None = None,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
) -> None:
    """Write round R's manifest for trainers outside plabel (targets, soft targets, copies, weights)."""
    from plabel.export import export as run

    ws = opt.open_ws(workspace)
    r = run(ws, ExportOptions(round=round, out=str(out), **(fields or {})))
    if emitted(r, json_output):
        return
    info(f"Exported round {r.round}'s manifest as {r.format} to {r.out}: {r.rows} rows, {r.samples} samples, "
         f"{r.files} files.")
