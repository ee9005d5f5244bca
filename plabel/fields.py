"""Options dataclasses own their help text: field metadata says what an option means, once, and
how a command line spells it. `plabel.cli` derives each command's parameters from it, and the
docs' CLI reference is generated from those (one owner for name, default, type and help)."""
from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import MISSING
from typing import Any, Literal


def cli(help: str, *flags: str, panel: str | None = None, type: Any = None, default: Any = MISSING,
        parse: Callable[[Any], Any] | None = None, **settings: Any) -> dict[str, Any]:
    """Metadata for `field(metadata=...)`: the help text; the flags when not `--field-name`; the
    --help panel; the command line's type, default and `parse` (to the field's value) where they
    differ from the field's (`--epochs` is text, `auto` or a count); typer settings (min, max)."""
    return {"help": help, "flags": flags, "panel": panel, "type": type, "default": default, "parse": parse,
            "settings": settings}


def choices(hint: Any) -> tuple[Any, ...]:
    """The values a `Literal[...]` type allows (also inside `Literal[...] | None`); () for other types."""
    if typing.get_origin(hint) is Literal:
        return typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return tuple(v for arg in typing.get_args(hint) for v in choices(arg))
    return ()


def comma_items(text: str | None) -> tuple[str, ...]:
    """A comma-separated command-line value as its items, each stripped, empty ones dropped."""
    return tuple(x.strip() for x in text.split(",") if x.strip()) if text else ()
