"""export: a round's manifest as CSV, Parquet, an ImageFolder of links, or WebDataset tar shards."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from plabel.cli import _options as opt
from plabel.cli._output import emitted, info
from plabel.cli.app import command
from plabel.export import FORMATS, ExportOptions

D = ExportOptions(round=0, out="")  # D: the library's defaults are the CLI's (one owner)


@command()
def export(
    out: Annotated[Path, typer.Argument(help="Where to write: a file (csv, parquet) or a new folder.")],
    round: opt.Round = 0,
    format: Annotated[str, opt.option(f"One of {', '.join(FORMATS)}.")] = D.format,
    shard_size: Annotated[int, opt.option("wds: samples per tar shard.", min=1)] = D.shard_size,
    overwrite: Annotated[bool, opt.option("Replace OUT if it exists.", "--overwrite")] = D.overwrite,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
) -> None:
    """Write round R's manifest for trainers outside plabel (targets, soft targets, copies, weights)."""
    from plabel.export import export as run

    ws = opt.open_ws(workspace)
    r = run(ws, ExportOptions(round=round, out=str(out), format=format, shard_size=shard_size, overwrite=overwrite))
    if emitted(r, json_output):
        return
    info(f"Exported round {r.round}'s manifest as {r.format} to {r.out}: {r.rows} rows, {r.samples} samples, "
         f"{r.files} files.")
