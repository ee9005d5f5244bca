"""Options that several commands share, defined once."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

Workspace = Annotated[
    Optional[Path],
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace folder (default: $PLABEL_WORKSPACE, else the current folder).",
        show_default=False,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON summary on stdout.")]
Round = Annotated[int, typer.Option("--round", "-r", help="Round number (0: the teacher trained on labeled images).", min=0)]
Seed = Annotated[int, typer.Option("--seed", help="Random seed.")]


def open_ws(path: Optional[Path]):
    from plabel.workspace import open_workspace

    ws = open_workspace(path)
    ws.sync_catalog()
    return ws


def progress(json_output: bool):
    from plabel.cli._output import RichProgress

    return RichProgress(enabled=not json_output)
