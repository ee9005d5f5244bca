"""Small helpers over DuckDB connections: results are always fetched to the end.

DuckDB 2 refuses new work on a connection while a result is unfinished, and a `fetchone()`
of a one-row result does not finish it; these helpers fetch everything.
"""
from __future__ import annotations

import re
from contextlib import contextmanager

import duckdb

_NAMED = re.compile(r"\$([A-Za-z_]\w*)")


def bind(sql: str, params: list | dict | None) -> list | dict:
    """Parameters for `sql`: named ones are cut to those the statement uses ($name)."""
    if isinstance(params, dict):
        used = set(_NAMED.findall(sql))
        return {k: v for k, v in params.items() if k in used}
    return params or []


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None) -> list[tuple]:
    return con.execute(sql, bind(sql, params)).fetchall()


def dicts(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None) -> list[dict]:
    """Rows as {column: value}."""
    cur = con.execute(sql, bind(sql, params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=False)) for r in cur.fetchall()]


def row(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None) -> tuple:
    """The one row of a query that always has one (an aggregate)."""
    result = rows(con, sql, params)
    if len(result) != 1:
        raise ValueError(f"expected one row, got {len(result)}")
    return result[0]


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None):
    """The first value of the first row, or None when there is no row."""
    result = rows(con, sql, params)
    return result[0][0] if result else None


def execute(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None) -> None:
    con.execute(sql, bind(sql, params)).fetchall()


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, data):
    """Expose an Arrow table to SQL as `name` for the duration of a block."""
    con.register(name, data)
    try:
        yield
    finally:
        con.unregister(name)
