"""`plabel sql`: read-only SQL over the workspace's views, and writing results out.

Two guards: only SELECT and EXPLAIN statements are accepted, and the connection can reach no
file outside the workspace's tables (DuckDB's allowed_directories with external access off,
settings locked), unless the caller opts in with `allow_files`.
"""
from __future__ import annotations

import json
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from plabel import storage
from plabel.errors import ReadOnlyViolation, UsageError
from plabel.values import json_safe
from plabel.workspace import Workspace

FORMATS = ("table", "csv", "json", "parquet")
READ_ONLY_HELP = "only SELECT, WITH ... SELECT, FROM, VALUES, DESCRIBE, SUMMARIZE, SHOW and EXPLAIN of those"


def check_read_only(query: str) -> list[Any]:
    """The parsed statements, or ReadOnlyViolation naming the first that is not a read.

    DuckDB's own parser decides: a statement is a read when its type is SELECT (DESCRIBE, SHOW,
    SUMMARIZE, FROM and VALUES parse as SELECT), or when it is an EXPLAIN (with or without
    ANALYZE, which runs the statement) of a read. A text filter cannot see through comments,
    case or `EXPLAIN ANALYZE COPY ...`; the parser can.
    """
    statements = _parse(query)
    if not statements:
        raise UsageError("empty query")
    for st in statements:
        kind = _read_kind(st)
        if kind is not None:
            raise ReadOnlyViolation(f"plabel sql is read-only: {kind} statements are not allowed ({READ_ONLY_HELP})")
    return statements


def _parse(text: str) -> list[Any]:
    try:
        return duckdb.extract_statements(text)
    except duckdb.Error as e:
        raise UsageError(f"SQL syntax: {' '.join(str(e).split())}") from None


def _read_kind(statement: Any) -> str | None:
    """None when `statement` only reads; else the name of what it is."""
    try:
        kind = statement.type.name
    except ValueError:  # a type the Python binding cannot name (UPDATE EXTENSIONS): not a read
        return "UNKNOWN"
    if kind == "SELECT":
        return None
    if kind != "EXPLAIN":
        return str(kind)
    inner = _parse(_explained(statement.query))
    if len(inner) != 1:
        return "EXPLAIN"
    found = _read_kind(inner[0])
    return None if found is None else f"EXPLAIN of {found}"


def _explained(text: str) -> str:
    """The statement an EXPLAIN explains: the text after EXPLAIN [ANALYZE | (options)]."""
    starts = [pos for pos, _ in duckdb.tokenize(text)]
    words = [
        (pos, text[pos:end].strip())
        for (pos, kind), end in zip(duckdb.tokenize(text), [*starts[1:], len(text)], strict=True)
        if kind != duckdb.token_type.comment
    ]
    i = 1  # words[0] is EXPLAIN
    if i < len(words) and words[i][1].upper() in ("ANALYZE", "ANALYSE"):
        i += 1
    elif i < len(words) and words[i][1].startswith("("):
        depth = 0
        while i < len(words):  # skip the option list: (ANALYZE, FORMAT JSON)
            depth += words[i][1].count("(") - words[i][1].count(")")
            i += 1
            if depth <= 0:
                break
    return text[words[i][0]:] if i < len(words) else ""


@dataclass(kw_only=True)
class QueryResult:
    columns: list[str]
    reader: pa.RecordBatchReader
    con: duckdb.DuckDBPyConnection
    workspace: Path
    scratch: tempfile.TemporaryDirectory[str]
    timer: threading.Timer | None = None  # interrupts the query when its time is up

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.con.close()
        self.scratch.cleanup()


def run_query(ws: Workspace, query: str, params: list[Any] | None = None, allow_files: bool = False,
              timeout: float | None = None) -> QueryResult:
    """Run read-only statements; the last one's result streams as Arrow record batches.

    Earlier statements are bound (so their errors are reported) but their results are dropped,
    as DuckDB's own `sql()` does with several statements. With `timeout` (seconds), DuckDB is
    interrupted when the time is up, whether it is still planning or being read: reading then
    raises duckdb.InterruptException.
    """
    statements = check_read_only(query)
    # DuckDB may spill to its temp directory, which a query can read: give it a private one.
    scratch = tempfile.TemporaryDirectory(prefix="plabel-sql-")
    con = ws.connect(sandbox=True, allow_files=allow_files, temp_directory=scratch.name)
    timer = _interrupt_after(con, timeout)
    try:
        for st in statements[:-1]:
            con.sql(st.query)
        rel = con.sql(statements[-1].query, params=params or None)
        if rel is None:
            raise UsageError("the last statement returns no rows")
        return QueryResult(columns=list(rel.columns), reader=rel.to_arrow_reader(64 * 1024), con=con,
                           workspace=ws.root, scratch=scratch, timer=timer)
    except duckdb.PermissionException as e:
        if timer is not None:
            timer.cancel()
        con.close()
        scratch.cleanup()
        raise ReadOnlyViolation(
            f"{' '.join(str(e).split())} (plabel sql reads only the workspace's tables; "
            "pass `allow_files` to read other files)"
        ) from None
    except (duckdb.Error, UsageError) as e:
        if timer is not None:
            timer.cancel()
        con.close()
        scratch.cleanup()
        message = str(e) if isinstance(e, UsageError) else f"SQL error: {' '.join(str(e).split())}"
        raise UsageError(stopped(timeout) if isinstance(e, duckdb.InterruptException) else message) from None


def _interrupt_after(con: duckdb.DuckDBPyConnection, timeout: float | None) -> threading.Timer | None:
    if not timeout:
        return None
    timer = threading.Timer(timeout, con.interrupt)
    timer.daemon = True
    timer.start()
    return timer


def stopped(timeout: float | None) -> str:
    """What a query interrupted by its timeout says."""
    return f"the query was stopped after {timeout:g} s (its time limit)"


def check_output(workspace: Path, output: Path) -> Path:
    """The absolute output path; UsageError when it is, lies inside or holds the workspace (links resolved)."""
    return storage.outside(workspace, output, "--output")


def write_result(result: QueryResult, fmt: str, output: Path | None, stream: IO[str] | None = None) -> int:
    """Write a result as csv, json or parquet to `output` (atomically) or `stream`; rows written."""
    if fmt not in FORMATS or fmt == "table":
        raise UsageError(f"format must be one of csv, json, parquet (got {fmt!r})")
    if fmt == "parquet" and output is None:
        raise UsageError("`format` parquet needs `output` FILE")
    if output is None and stream is None:
        raise UsageError("write_result needs an output file or a stream")
    dest = check_output(result.workspace, output) if output else None
    target = storage.tmp_path(dest) if dest else None
    n = 0
    try:
        if fmt == "parquet":
            with pq.ParquetWriter(target, result.reader.schema, compression="zstd") as w:
                for batch in result.reader:
                    w.write_batch(batch)
                    n += batch.num_rows
        elif target:
            with open(target, "w", newline="") as fh:
                n = _write_text(result, fmt, fh)
        elif stream is not None:
            n = _write_text(result, fmt, stream)
        if target and dest:
            storage.publish(target, dest)
    finally:
        if target:
            target.unlink(missing_ok=True)
    return n


def _flat(batch: pa.RecordBatch) -> pa.Table:
    """List and struct columns as JSON text, which CSV can hold."""
    table = pa.Table.from_batches([batch])
    for i, f in enumerate(table.schema):
        if pa.types.is_nested(f.type):
            text = [None if v is None else json.dumps(v, default=str) for v in table.column(i).to_pylist()]
            table = table.set_column(i, f.name, pa.array(text, pa.string()))
    return table


def _write_text(result: QueryResult, fmt: str, fh: IO[str]) -> int:
    n = 0
    if fmt == "csv":
        import io

        first = True
        for batch in result.reader:
            buf = io.BytesIO()
            pacsv.write_csv(_flat(batch), buf, pacsv.WriteOptions(include_header=first))
            fh.write(buf.getvalue().decode())
            first = False
            n += batch.num_rows
        if first:
            fh.write(",".join(f'"{c}"' for c in result.columns) + "\n")
        return n
    fh.write("[")
    for batch in result.reader:
        for row in batch.to_pylist():
            fh.write(("," if n else "") + "\n  " + json.dumps(json_safe(row), default=str))
            n += 1
    fh.write("\n]\n" if n else "]\n")
    return n
