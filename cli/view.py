"""view: a local web view of every round."""
from __future__ import annotations

from typing import Any

from plabel.cli import _options as opt
from plabel.cli._fields import with_fields
from plabel.cli._output import info
from plabel.cli.app import command
from plabel.view.options import ViewOptions


@command()
@with_fields(ViewOptions)
def view(fields: dict[str, Any] | None = None, workspace: opt.Workspace = None) -> None:
    """Browse every round in a web browser: images by class, confidence and decision, flips,
    duplicates, SQL; review pseudo labels. Runs until Ctrl+C."""
    from plabel.view.serve import Started, serve

    def started(s: Started) -> None:
        info(f"plabel view of {ws.root}: {s.url}")
        if s.token:
            info("Anyone with this address can read the workspace and write reviews: keep the token private.")
        info("Press Ctrl+C to stop.")

    ws = opt.open_ws(workspace)
    serve(ws, ViewOptions(**(fields or {})), on_start=started)
