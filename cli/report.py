"""report: one self-contained HTML file to look at after every round."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

from plabel.cli import _options as opt
from plabel.cli._output import emitted, info
from plabel.cli.app import command


@command()
def report(
    round_: Annotated[
        int | None, opt.option("Only this round's section (default: every round).", "--round", "-r", min=0)
    ] = None,
    output: Annotated[
        Path | None, opt.option("HTML file (default: reports/report.html in the workspace).", "--output", "-o")
    ] = None,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
) -> None:
    """Write an HTML report: rounds, confidence, selection funnel, sample grids, drift, lineage."""
    from plabel.report import write_report

    r = write_report(opt.open_ws(workspace), round_, output)
    if emitted(r, json_output):
        return
    info(f"Report written to {r.path} ({r.bytes / 1e6:.2f} MB, rounds {', '.join(map(str, r.rounds)) or 'none'}).")
