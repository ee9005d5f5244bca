"""Command parameters derived from an options dataclass's fields (their `plabel.fields.cli` metadata)."""
from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Annotated, Any

import typer

from plabel.fields import choices

Command = Callable[..., Any]


def field_parameters(cls: type) -> list[inspect.Parameter]:
    """One keyword parameter per field that has command-line metadata, in field order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if "help" not in meta:
            continue
        info = typer.Option(*meta["flags"], help=meta["help"], rich_help_panel=meta["panel"], **meta["settings"])
        default = f.default if meta["default"] is dataclasses.MISSING else meta["default"]
        default = inspect.Parameter.empty if default is dataclasses.MISSING else default  # a required option
        kind = meta["type"] if meta["type"] is not None else hints[f.name]
        if choices(kind):  # typer takes no Literal: text, checked by the library (check_fields)
            kind = str | None if type(None) in typing.get_args(kind) else str
        out.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                     annotation=Annotated[kind, info]))
    return out


def parse_fields(cls: type, given: dict[str, Any]) -> dict[str, Any]:
    """The command line's values as the fields take them (each field's `parse`, where it has one)."""
    meta = {f.name: f.metadata for f in dataclasses.fields(cls)}
    return {k: meta[k]["parse"](v) if meta[k].get("parse") else v for k, v in given.items()}


def with_fields(cls: type, after: dict[str, str] | None = None) -> Callable[[Command], Command]:
    """Give a command one parameter per option field of `cls`, in place of its `fields` parameter,
    and call it with `fields=` the parsed values. `after` places a parameter of the command's own
    after a field (`{"resume": "skip_missing"}`), so --help lists them as before."""

    def decorate(fn: Command) -> Command:
        own = inspect.signature(fn, eval_str=True).parameters
        derived = field_parameters(cls)
        names = {p.name for p in derived}
        placed = {**{k: own[k] for k in (after or {})}}
        params: list[inspect.Parameter] = []
        for name, p in own.items():
            if name == "fields":
                for d in derived:
                    params.append(d)
                    params += [placed[k].replace(kind=inspect.Parameter.KEYWORD_ONLY)
                               for k, v in (after or {}).items() if v == d.name]
            elif name not in placed:
                params.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY))

        @functools.wraps(fn)
        def command(**kwargs: Any) -> Any:
            given = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
            return fn(fields=parse_fields(cls, given), **kwargs)

        del command.__wrapped__  # typer reads the signature below, not fn's
        command.__dict__["__signature__"] = inspect.Signature(params)
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate
