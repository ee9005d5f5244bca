"""Small helpers over DuckDB connections: results are always fetched to the end.

DuckDB 2 refuses new work on a connection while a result is unfinished, and a `fetchone()`
of a one-row result does not finish it; these helpers fetch everything.
"""
from __future__ import annotations

import graphlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb

from plabel.queries import Query

Sql = Query | str  # a named query; plain text only for the few statements built from identifiers
Params = list[Any] | dict[str, Any] | None


def bind(sql: Sql, params: Params) -> list[Any] | dict[str, Any]:
    """The parameters for `sql`, checked: a named query gets exactly the $names it uses, by name."""
    if isinstance(sql, Query) and isinstance(params, list) and params:
        raise ValueError(f"query {sql.name}: parameters go by name ($name), not by position")
    if isinstance(sql, Query) and not isinstance(params, dict):
        params = {}  # no parameters: the query must use none
    if isinstance(params, dict) and isinstance(sql, Query):
        unknown, missing = set(params) - sql.params, sql.params - set(params)
        if unknown or missing:
            raise ValueError(f"query {sql.name}: unknown parameters {sorted(unknown)}, missing {sorted(missing)}")
    return params or []


def rows(con: duckdb.DuckDBPyConnection, sql: Sql, params: Params = None) -> list[tuple[Any, ...]]:
    return con.execute(str(sql), bind(sql, params)).fetchall()


def dicts(con: duckdb.DuckDBPyConnection, sql: Sql, params: Params = None) -> list[dict[str, Any]]:
    """Rows as {column: value}."""
    cur = con.execute(str(sql), bind(sql, params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def row(con: duckdb.DuckDBPyConnection, sql: Sql, params: Params = None) -> tuple[Any, ...]:
    """The one row of a query that always has one (an aggregate)."""
    result = rows(con, sql, params)
    if len(result) != 1:
        raise ValueError(f"expected one row, got {len(result)}")
    return result[0]


def scalar(con: duckdb.DuckDBPyConnection, sql: Sql, params: Params = None) -> Any:
    """The first value of the first row, or None when there is no row."""
    result = rows(con, sql, params)
    return result[0][0] if result else None


def cursor(con: duckdb.DuckDBPyConnection, sql: Sql, params: Params = None) -> duckdb.DuckDBPyConnection:
    """The executed query, for results read in chunks (fetchmany); the caller reads it to the end."""
    return con.execute(str(sql), bind(sql, params))


def relation(con: duckdb.DuckDBPyConnection, sql: Sql, params: Params = None) -> duckdb.DuckDBPyRelation:
    """A lazy relation, for results streamed as Arrow batches."""
    return con.sql(str(sql), params=bind(sql, params) or None)


def execute(con: duckdb.DuckDBPyConnection, sql: Sql, params: Params = None) -> None:
    con.execute(str(sql), bind(sql, params)).fetchall()


def define(con: duckdb.DuckDBPyConnection, queries: list[Query], params: dict[str, Any] | None = None) -> None:
    """Run queries that create temporary tables, views and macros, each after the others whose
    names its text uses (DuckDB binds a macro's body when it is created, so order matters),
    whatever order they are given in. Each gets the `params` it uses."""
    by_name = {q.defines: q for q in queries if q.defines}
    if len(by_name) != len(queries):
        raise ValueError(f"define: each query must create one distinct temporary object ({[q.name for q in queries]})")
    graph = {name: {other for other in by_name if other != name and re.search(rf"\b{other}\b", q.code)}
             for name, q in by_name.items()}
    for name in graphlib.TopologicalSorter(graph).static_order():
        q = by_name[name]
        execute(con, q, {k: v for k, v in (params or {}).items() if k in q.params} if q.params else None)


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, data: Any) -> Iterator[None]:
    """Expose an Arrow table to SQL as `name` for the duration of a block."""
    con.register(name, data)
    try:
        yield
    finally:
        con.unregister(name)
