"""The SQL cookbook: read-only queries over the workspace's tables and views that answer what
people ask of their rounds, one file each under `schemas/cookbook/` (its first line, a comment,
is the title). `plabel view`'s SQL console offers them; docs/cookbook.md is generated from them;
the test suite runs every one against a three-round workspace."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True, kw_only=True)
class Recipe:
    slug: str  # the file's name without .sql
    title: str
    sql: str


@cache
def recipes() -> tuple[Recipe, ...]:
    """Every recipe, in file order."""
    folder = resources.files("plabel.schemas").joinpath("cookbook")
    out = []
    for f in sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name):
        first, _, sql = f.read_text().partition("\n")
        out.append(Recipe(slug=f.name[:-4], title=first.removeprefix("--").strip(), sql=sql.strip()))
    return tuple(out)


def cookbook_markdown() -> str:
    """docs/cookbook.md."""
    parts = ["# SQL cookbook", "",
             "Generated from `schemas/cookbook/*.sql` by `python -m plabel.docs`; every query runs in the test",
             "suite against a three-round workspace (`tests/test_cookbook.py`). Run one with `plabel sql`, or",
             "pick it in `plabel view`'s SQL console. The views are described in [sql.md](sql.md).", ""]
    for r in recipes():
        parts += [f"## {r.title}", "", "```sql", r.sql, "```", ""]
    return "\n".join(parts)
