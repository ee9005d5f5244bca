"""Options that several commands share, defined once."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from plabel.values import MAX_ROUND

if TYPE_CHECKING:
    from plabel.cli._output import RichProgress
    from plabel.workspace import Workspace as OpenWorkspace

Workspace = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace folder (default: $PLABEL_WORKSPACE, else the current folder).",
        show_default=False,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print a machine-readable JSON summary on stdout.")]
Round = Annotated[
    int, typer.Option("--round", "-r", help="Round number (0: the teacher trained on labeled images).", min=0,
                      max=MAX_ROUND)
]


def option(help: str, *flags: str, **settings: Any) -> Any:
    """typer.Option with its help text first, so that an option's declaration fits on one line."""
    return typer.Option(*flags, help=help, **settings)


def open_ws(path: Path | None) -> OpenWorkspace:
    from plabel.workspace import open_workspace

    return open_workspace(path)  # readers never write: catalog.duckdb is refreshed by writers


def progress(json_output: bool) -> RichProgress:
    from plabel.cli import _output

    return _output.RichProgress(enabled=not json_output and not _output._MUTED)


OptionalRound = Annotated[
    int | None,
    typer.Option(
        "--round",
        "-r",
        help="Round number (default: the newest round that has what the command reads).",
        min=0,
        max=MAX_ROUND,
        show_default=False,
    ),
]


def open_round(path: Path | None, round_: int | None) -> tuple[OpenWorkspace, int]:
    """The workspace and the round a command on predictions works on (dedup, select)."""
    ws = open_ws(path)
    return ws, resolve_round(ws, round_, "predictions", "round with predictions")


def resolve_round(ws: OpenWorkspace, round_: int | None, table: str, what: str) -> int:
    """`--round`, or the newest round of `table`, said on stderr so the user sees which."""
    if round_ is not None:
        return round_
    from plabel.cli._output import info

    chosen = ws.newest_round(table)
    info(f"Round {chosen} (the newest {what}; pass --round to choose another)")
    return chosen
