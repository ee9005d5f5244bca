"""docs/cli.md: the CLI reference, generated from the commands' own --help text."""
from __future__ import annotations

from typing import Any

import typer.main

from plabel.cli.app import app

WIDTH = 100
INTRO = """# CLI reference

<!-- Generated from `plabel COMMAND --help` by `python -m plabel.docs`; a test keeps it in sync. -->

Every command is a thin layer over a library function (see the other pages for the Python
calls). Every command takes `-w/--workspace` (default: `$PLABEL_WORKSPACE`, else the current
folder); `--json` prints a machine-readable summary on stdout. Exit codes: 0 done, 1 runtime
failure, 2 bad input (nothing written).
"""


def _help(command: Any, name: str, parent: Any = None) -> str:
    # the command's own context class: Typer's vendored click, whatever `click` is installed
    ctx = command.context_class(
        command,
        info_name=name,
        parent=parent,
        terminal_width=WIDTH,
        max_content_width=WIDTH,
        help_option_names=["-h", "--help"],
    )
    return str(command.get_help(ctx))


def command_names() -> list[str]:
    root: Any = typer.main.get_command(app)
    return list(root.list_commands(None))


def cli_markdown() -> str:
    root: Any = typer.main.get_command(app)
    root_ctx = root.context_class(
        root, info_name="plabel", terminal_width=WIDTH, max_content_width=WIDTH, help_option_names=["-h", "--help"]
    )
    parts = [INTRO, "## plabel", "", "```", root.get_help(root_ctx), "```", ""]
    for name in root.list_commands(root_ctx):
        command = root.commands[name]
        parts += [f"## plabel {name}", "", "```", _help(command, name, root_ctx), "```", ""]
        group_ctx = command.context_class(command, info_name=name, parent=root_ctx, terminal_width=WIDTH,
                                          max_content_width=WIDTH, help_option_names=["-h", "--help"])
        for sub, subcommand in getattr(command, "commands", {}).items():  # a group: review export, ...
            parts += [f"## plabel {name} {sub}", "", "```", _help(subcommand, sub, group_ctx), "```", ""]
    return "\n".join(parts)
