"""Small helpers over DuckDB connections: results are always fetched to the end.

DuckDB 2 refuses new work on a connection while a result is unfinished, and a `fetchone()`
of a one-row result does not finish it; these helpers fetch everything.
"""
from __future__ import annotations

from contextlib import contextmanager

import duckdb


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def row(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple | None:
    result = rows(con, sql, params)
    return result[0] if result else None


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    result = row(con, sql, params)
    return result[0] if result else None


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, data):
    """Expose an Arrow table to SQL as `name` for the duration of a block."""
    con.register(name, data)
    try:
        yield
    finally:
        con.unregister(name)
