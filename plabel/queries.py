"""Named SQL: every query plabel runs lives in a file under `schemas/queries/`, loaded by name.

`query("selection/stats")` reads `schemas/queries/selection/stats.sql` once. Queries compose by
reference, as dbt models do: a file that defines a temporary view or table macro
(`CREATE TEMP MACRO candidates(...) AS TABLE ...`) is run first, and later queries name it;
no query text is assembled from pieces. A query's named parameters (`$round`) are read from its
text, so `plabel.db` can refuse a parameter the query does not use and one it lacks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

_NAMED = re.compile(r"\$([A-Za-z_]\w*)")
_COMMENT = re.compile(r"--[^\n]*")
_STRING = re.compile(r"'(?:[^']|'')*'")
_DEFINES = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?TEMP(?:ORARY)?\s+(?:MACRO|VIEW|TABLE)\s+(\w+)", re.I)


@dataclass(frozen=True)
class Query:
    name: str
    text: str
    params: frozenset[str]  # the $name parameters it uses
    defines: str | None = None  # the temporary table, view or macro it creates, if it creates one
    code: str = ""  # its text without comments and string literals (what it references)

    def __str__(self) -> str:
        return self.text


def _folder() -> Traversable:
    return resources.files("plabel.schemas").joinpath("queries")


@cache
def query(name: str) -> Query:
    """The query `schemas/queries/<name>.sql`; KeyError lists the known names."""
    file = _folder().joinpath(*f"{name}.sql".split("/"))
    if not file.is_file():
        raise KeyError(f"no query {name!r}; queries: {', '.join(list_queries())}")
    return parse_query(name, file.read_text())


def parse_query(name: str, text: str) -> Query:
    """A query's text and the $name parameters it uses; positional `?` parameters are refused."""
    text = text.strip().rstrip(";")
    code = _STRING.sub("''", _COMMENT.sub("", text))  # a `$` inside a comment or string is no parameter
    if "?" in code:  # positional parameters cannot be checked against what a caller passes
        raise ValueError(f"query {name}: use named parameters ($name), not `?`")
    defines = _DEFINES.match(code)
    return Query(name, text, frozenset(_NAMED.findall(code)), defines[1] if defines else None, code)


def list_queries() -> list[str]:
    names = []
    for group in _folder().iterdir():
        if group.is_dir():
            names += [f"{group.name}/{f.name[:-4]}" for f in group.iterdir() if f.name.endswith(".sql")]
    return sorted(names)
