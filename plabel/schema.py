"""Table definitions: load `schemas/*.toml`, derive Arrow schemas, DuckDB types and the docs.

The TOML files are the single source of truth; nothing here spells a column name.
"""
from __future__ import annotations

import graphlib
import itertools
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import pyarrow as pa
import tomllib

_SCALARS = {
    "string": (pa.string(), "VARCHAR"),
    "bool": (pa.bool_(), "BOOLEAN"),
    "int32": (pa.int32(), "INTEGER"),
    "int64": (pa.int64(), "BIGINT"),
    "binary": (pa.binary(), "BLOB"),
    "float16": (pa.float16(), "FLOAT"),
    "float32": (pa.float32(), "FLOAT"),
    "float64": (pa.float64(), "DOUBLE"),
    "timestamp": (pa.timestamp("us", tz="UTC"), "TIMESTAMPTZ"),
}
_LIST = re.compile(r"list<(\w+)>")


def arrow_type(type_name: str) -> pa.DataType:
    """Arrow type of a schema type name (`int32`, `list<float16>`, ...)."""
    match = _LIST.fullmatch(type_name)
    if match:
        return pa.list_(_SCALARS[match.group(1)][0])
    return _SCALARS[type_name][0]


def duckdb_type(type_name: str) -> str:
    """DuckDB type of a schema type name, as DuckDB reads the Parquet column back."""
    match = _LIST.fullmatch(type_name)
    if match:
        return _SCALARS[match.group(1)][1] + "[]"
    return _SCALARS[type_name][1]


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    nullable: bool = True
    dictionary: bool = True  # Parquet dictionary encoding; off for columns unique per row


@dataclass(frozen=True)
class TableSchema:
    name: str
    description: str
    columns: tuple[Column, ...]
    partition: str | None = None

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def file_columns(self) -> tuple[Column, ...]:
        """Columns stored inside the Parquet files (the partition column lives in the path)."""
        return tuple(c for c in self.columns if c.name != self.partition)

    def arrow_schema(self) -> pa.Schema:
        """Schema of the Parquet files of this table."""
        return pa.schema(
            [pa.field(c.name, arrow_type(c.type), nullable=c.nullable) for c in self.file_columns]
        )

    @property
    def dictionary_columns(self) -> list[str]:
        return [c.name for c in self.file_columns if c.dictionary]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def cast_select(self, source: str) -> str:
        """SELECT that casts `source`'s columns to this table's file types (for COPY ... TO)."""
        cols = ", ".join(
            f"CAST({quote_ident(c.name)} AS {duckdb_type(c.type)}) AS {quote_ident(c.name)}"
            for c in self.file_columns
        )
        return f"SELECT {cols} FROM ({source})"

    def empty_select(self) -> str:
        """A typed, zero-row SELECT standing for the table before it has any file."""
        cols = ", ".join(
            f"CAST(NULL AS {duckdb_type(c.type)}) AS {quote_ident(c.name)}" for c in self.columns
        )
        return f"SELECT {cols} WHERE false"


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (the only way identifiers enter SQL text here)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str | float) -> str:
    """An SQL literal for a constant plabel owns (a number, or a string quoted)."""
    return f"{float(value)!r}::DOUBLE" if isinstance(value, float) else "'" + value.replace("'", "''") + "'"


def _parse(text: str) -> TableSchema:
    raw = tomllib.loads(text)
    columns = tuple(
        Column(c["name"], c["type"], c["description"].strip(), c.get("nullable", True), c.get("dictionary", True))
        for c in raw["columns"]
    )
    for c in columns:
        arrow_type(c.type)  # unknown type names fail at load, not at write
    return TableSchema(raw["name"], raw["description"].strip(), columns, raw.get("partition"))


@cache
def tables() -> dict[str, TableSchema]:
    """Every table definition, by name, in the order the docs list them."""
    files = sorted(
        (f for f in resources.files("plabel.schemas").iterdir() if f.name.endswith(".toml")),
        key=lambda f: _ORDER.index(f.name[:-5]) if f.name[:-5] in _ORDER else len(_ORDER),
    )
    return {s.name: s for s in (_parse(f.read_text()) for f in files)}


_ORDER = [
    "images", "fingerprints", "aliases", "rejects", "classes", "predictions", "embeddings", "duplicates",
    "dedup_thresholds",
    "manifests", "selections", "selection_classes", "checkpoints", "runs", "evals", "calibrations", "reviews", "loops",
]


def table(name: str) -> TableSchema:
    try:
        return tables()[name]
    except KeyError:
        raise KeyError(f"no table {name!r}; tables: {', '.join(tables())}") from None


@dataclass(frozen=True)
class ViewDef:
    name: str
    description: str
    sql: str
    needs: tuple[str, ...] = ()  # the other derived views its SQL reads


@cache
def views() -> dict[str, ViewDef]:
    """Derived views from `schemas/views/*.sql` (each file starts with `-- description` lines), in
    dependency order: a view comes after every view its SQL names, so they can be created in one pass."""
    folder = resources.files("plabel.schemas").joinpath("views")
    found: dict[str, tuple[str, str]] = {}
    for f in sorted(folder.iterdir(), key=lambda f: f.name):
        if f.name.endswith(".sql"):
            text = f.read_text()
            doc = list(itertools.takewhile(lambda line: line.startswith("--"), text.splitlines()))
            found[f.name[:-4]] = (" ".join(line[2:].strip() for line in doc).strip(), text.strip().rstrip(";"))
    needs = {name: referenced(sql, set(found) - {name}) for name, (_, sql) in found.items()}
    try:
        order = list(graphlib.TopologicalSorter(needs).static_order())
    except graphlib.CycleError as e:
        raise ValueError(f"derived views read each other in a cycle: {' -> '.join(e.args[1])}") from None
    return {name: ViewDef(name, found[name][0], found[name][1], tuple(sorted(needs[name]))) for name in order}


_WORD = re.compile(r"[A-Za-z_]\w*")
_COMMENT_OR_STRING = re.compile(r"--[^\n]*|'(?:[^']|'')*'")


def referenced(sql: str, names: set[str]) -> set[str]:
    """Which of `names` the SQL mentions as identifiers (comments and string literals left out)."""
    return {w for w in _WORD.findall(_COMMENT_OR_STRING.sub(" ", sql)) if w in names}


def tables_markdown() -> str:
    """docs/tables.md, generated from the definitions."""
    out = [
        "# Tables",
        "",
        "<!-- Generated from schemas/ by `python -m plabel.docs`; a test keeps it in sync. -->",
        "",
        "Every table is Parquet under `tables/<name>/` in the workspace and a DuckDB view of the",
        "same name (in `plabel sql` and in `catalog.duckdb`). Tables with a round are partitioned",
        "Hive style (`round=R/`). The definitions live in `schemas/*.toml`.",
        "",
    ]
    for s in tables().values():
        out += [f"## {s.name}", "", s.description.replace("\n", " "), ""]
        if s.partition:
            out += [f"Partitioned by `{s.partition}`.", ""]
        out += ["| column | type | null | meaning |", "|---|---|---|---|"]
        for c in s.columns:
            null = "yes" if c.nullable else "no"
            out.append(f"| `{c.name}` | {c.type} | {null} | {c.description.replace(chr(10), ' ')} |")
        out.append("")
    if views():
        out += ["# Views", "", "Derived from the tables; defined in `schemas/views/*.sql`.", ""]
        for v in views().values():
            out += [f"## {v.name}", "", v.description, ""]
    return "\n".join(out)
