"""`plabel sql`: read-only SQL over the workspace's views, and writing results out.

Two guards: only SELECT and EXPLAIN statements are accepted, and the connection can reach no
file outside the workspace's tables (DuckDB's allowed_directories with external access off,
settings locked), unless the caller opts in with `allow_files`.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from plabel import storage
from plabel.errors import ReadOnlyViolation, UsageError
from plabel.workspace import Workspace

ALLOWED = {"SELECT", "EXPLAIN"}
FORMATS = ("table", "csv", "json", "parquet")


def check_read_only(query: str) -> list:
    """The parsed statements, or ReadOnlyViolation naming the first that is not a read."""
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as e:
        raise UsageError(f"SQL syntax: {' '.join(str(e).split())}") from None
    if not statements:
        raise UsageError("empty query")
    for st in statements:
        kind = st.type.name
        if kind not in ALLOWED:
            raise ReadOnlyViolation(
                f"plabel sql is read-only: {kind} statements are not allowed "
                "(only SELECT, WITH ... SELECT, DESCRIBE, SUMMARIZE, SHOW and EXPLAIN)"
            )
    return statements


@dataclass
class QueryResult:
    columns: list[str]
    reader: pa.RecordBatchReader
    con: duckdb.DuckDBPyConnection

    def close(self) -> None:
        self.con.close()


def run_query(ws: Workspace, query: str, params: list | None = None, allow_files: bool = False) -> QueryResult:
    """Run a read-only query; the result streams as Arrow record batches."""
    statements = check_read_only(query)
    con = ws.connect(sandbox=True, allow_files=allow_files)
    try:
        for st in statements[:-1]:
            con.execute(st.query)
        rel = con.sql(statements[-1].query, params=params or None)
        columns = list(rel.columns)
        reader = rel.to_arrow_reader(64 * 1024)
    except duckdb.PermissionException as e:
        con.close()
        raise ReadOnlyViolation(
            f"{' '.join(str(e).split())} (plabel sql reads only the workspace's tables; "
            "pass --allow-files to read other files)"
        ) from None
    except duckdb.Error as e:
        con.close()
        raise UsageError(f"SQL error: {' '.join(str(e).split())}") from None
    return QueryResult(columns, reader, con)


def _json_value(v):
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v


def write_result(result: QueryResult, fmt: str, output: Path | None, stream=None) -> int:
    """Write a result as csv, json or parquet to `output` (atomically) or `stream`; rows written."""
    if fmt not in FORMATS or fmt == "table":
        raise UsageError(f"format must be one of csv, json, parquet (got {fmt!r})")
    if fmt == "parquet" and output is None:
        raise UsageError("--format parquet needs --output FILE")
    target = storage.tmp_path(Path(os.path.abspath(output))) if output else None
    n = 0
    try:
        if fmt == "parquet":
            with pq.ParquetWriter(target, result.reader.schema, compression="zstd") as w:
                for batch in result.reader:
                    w.write_batch(batch)
                    n += batch.num_rows
        else:
            fh = open(target, "w", newline="") if target else stream
            try:
                n = _write_text(result, fmt, fh)
            finally:
                if target:
                    fh.close()
        if target:
            storage.publish(target, Path(os.path.abspath(output)))
    finally:
        if target:
            target.unlink(missing_ok=True)
    return n


def _write_text(result: QueryResult, fmt: str, fh) -> int:
    n = 0
    if fmt == "csv":
        import io

        first = True
        for batch in result.reader:
            buf = io.BytesIO()
            pacsv.write_csv(pa.Table.from_batches([batch]), buf, pacsv.WriteOptions(include_header=first))
            fh.write(buf.getvalue().decode())
            first = False
            n += batch.num_rows
        if first:
            fh.write(",".join(f'"{c}"' for c in result.columns) + "\n")
        return n
    fh.write("[")
    for batch in result.reader:
        for row in batch.to_pylist():
            fh.write(("," if n else "") + "\n  " + json.dumps({k: _json_value(v) for k, v in row.items()}, default=str))
            n += 1
    fh.write("\n]\n" if n else "]\n")
    return n
