"""The root Typer app; each command group lives in its own module and registers itself here."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from typer.core import TyperGroup

# `plabel --help` and docs/cli.md list the commands in the order a user meets them: try it, set up,
# train and predict, curate, look back. A command missing here is listed after them.
ORDER = ("demo", "init", "ingest", "commit", "status", "train", "eval", "calibrate", "infer", "import-predictions",
         "dedup", "select", "review", "export", "run", "rounds", "drift", "report", "view", "sql")


class _Ordered(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:  # typer's own (vendored) click.Context
        rank = {name: k for k, name in enumerate(ORDER)}
        return sorted(self.commands, key=lambda name: (rank.get(name, len(ORDER)), name))


app = typer.Typer(
    name="plabel",
    cls=_Ordered,
    help="Pseudo-label management for Noisy-Student self-training on images.",
    rich_markup_mode=None,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"plabel {version('plabel')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print plabel's version and exit.", callback=_version, is_eager=True
    ),
) -> None:
    """Pseudo-label management for Noisy-Student self-training on images."""


Command = Callable[..., Any]


def command(name: str | None = None, **kwargs: Any) -> Callable[[Command], Command]:
    """Register a command with the shared error handling."""
    from plabel.cli._output import handle_errors

    def register(fn: Command) -> Command:
        app.command(name, **kwargs)(handle_errors(fn))
        return fn

    return register


# Command modules (ORDER says how their commands are listed).
COMMAND_MODULES = (
    "drift", "infer", "external", "run", "report", "dedup", "select", "export", "train", "eval", "calibrate",
    "workspace", "review", "view",
)


def _load_commands() -> None:
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"plabel.cli.{name}")


_load_commands()


def main() -> None:
    app()
