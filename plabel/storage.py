"""Atomic Parquet writes: every file is written under a temporary name and renamed into place.

A reader (DuckDB's glob over `*.parquet`) never sees a partial file: temporary names start with a
dot and end in `.tmp`. Folders of a round are built in a staging folder and renamed in one step.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from plabel import db
from plabel.errors import DataError, UsageError
from plabel.schema import TableSchema

TMP_SUFFIX = ".tmp"
PARQUET_OPTIONS = dict(compression="zstd")


def part_name(prefix: str = "part") -> str:
    """A file name that sorts by creation time and never collides."""
    return f"{prefix}-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"


def literal_path(path: Path) -> str:
    """A path for DuckDB's file readers, which glob every name: `[`, `*` and `?` made literal.

    Without this a workspace named `w[s]` reads its sibling `ws`'s tables.
    """
    return "".join(f"[{c}]" if c in "[*?" else c for c in str(path))


def tmp_path(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}{TMP_SUFFIX}")


def outside(root: Path, out: str | os.PathLike[str], option: str) -> Path:
    """OUT as an absolute path; UsageError when it is the workspace `root`, lies inside it, or holds
    it (links resolved on both sides): a command's output never replaces or edits a workspace."""
    real, real_root = Path(os.path.realpath(out)), Path(os.path.realpath(root))
    if real == real_root or real_root in real.parents:
        raise UsageError(f"{option} must be outside the workspace (got {out}): plabel never writes its outputs "
                         "into the workspace")
    if real in real_root.parents:
        raise UsageError(f"{option} must not hold the workspace (got {out}, which holds {root})")
    return Path(os.path.abspath(out))


def file_kind(path: str | os.PathLike[str]) -> str | None:
    """None for a regular file (links followed), else what is wrong, as a phrase ("is a FIFO"):
    opened without blocking and checked with fstat, so a FIFO named as a shard or listing never
    hangs a command."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return "does not exist"
    except OSError as e:
        return f"cannot be opened ({e.strerror})"
    try:
        mode = os.fstat(fd).st_mode
    finally:
        os.close(fd)
    if stat.S_ISREG(mode):
        return None
    return "is a folder" if stat.S_ISDIR(mode) else "is a FIFO" if stat.S_ISFIFO(mode) else "is not a regular file"


def check_regular(path: str | os.PathLike[str], what: str) -> None:
    """UsageError, naming `what`, unless `path` is a regular file."""
    kind = file_kind(path)
    if kind is not None:
        raise UsageError(f"{what} {path} {kind}" + (": it must be a regular file" if kind.startswith("is") else ""))


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: Path, dest: Path) -> Path:
    """Make a finished temporary file visible under its final name."""
    _fsync_file(tmp)
    os.replace(tmp, dest)
    fsync_dir(dest.parent)
    return dest


def conform(data: pa.Table, schema: TableSchema) -> pa.Table:
    """Select and cast `data`'s columns to the table's file schema (raises on a missing column)."""
    target = schema.arrow_schema()
    missing = [n for n in target.names if n not in data.column_names]
    if missing:
        raise ValueError(f"{schema.name}: missing columns {missing}")
    data = data.select(target.names).cast(target)
    _check_not_null(data, target, schema.name)
    return data


def write_arrow(data: pa.Table, dest: Path, schema: TableSchema) -> Path:
    """Write an Arrow table as `dest`, atomically, in the table's exact file schema."""
    return write_parquet(conform(data, schema), dest, schema.dictionary_columns)


def write_parquet(data: pa.Table, dest: Path, use_dictionary: bool | list[str] = True) -> Path:
    """Write an Arrow table as `dest`, atomically, in its own schema (staging files that are no
    table's part; a table's part goes through write_arrow)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(dest)
    try:
        pq.write_table(data, tmp, use_dictionary=use_dictionary, **PARQUET_OPTIONS)
        return publish(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def write_rows(rows: list[dict[str, Any]], dest: Path, schema: TableSchema) -> Path:
    """Write a few rows given as dicts (a column a dict lacks is null) as `dest`, atomically."""
    return write_arrow(pa.Table.from_pylist(rows, schema=schema.arrow_schema()), dest, schema)


class ArrowPartWriter:
    """Writes batches of rows as a sequence of part files in one folder (bounded memory)."""

    def __init__(self, folder: Path, schema: TableSchema, prefix: str = "part"):
        self.folder, self.schema, self.prefix = folder, schema, prefix
        self.files: list[Path] = []

    def write(self, data: pa.Table) -> Path | None:
        if data.num_rows == 0:
            return None
        path = write_arrow(data, self.folder / part_name(self.prefix), self.schema)
        self.files.append(path)
        return path


def conform_batch(batch: pa.RecordBatch, target: pa.Schema, name: str) -> pa.RecordBatch:
    batch = batch.select(target.names).cast(target)
    _check_not_null(batch, target, name)
    return batch


def _check_not_null(data: Any, target: pa.Schema, name: str) -> None:
    for f, col in zip(target, data.columns, strict=True):
        if not f.nullable and col.null_count:
            raise ValueError(f"{name}.{f.name} is declared not null but {col.null_count} values are null")


ROW_GROUP = 1 << 17


def blocks(reader: Any, size: int) -> Iterator[Any]:
    """Re-cut record batches into tables whose length is a multiple of `size` (the last: the rest)."""
    pending = []
    rows = 0
    for batch in reader:
        pending.append(batch)
        rows += batch.num_rows
        if rows >= size:
            t = pa.Table.from_batches(pending)
            cut = rows - rows % size
            yield t.slice(0, cut)
            rest = t.slice(cut)
            pending, rows = rest.to_batches(), rest.num_rows
    if rows:
        yield pa.Table.from_batches(pending)


def write_query(con: duckdb.DuckDBPyConnection, query: db.Sql, params: list[Any] | dict[str, Any] | None, dest: Path,
                schema: TableSchema) -> int:
    """Stream a query's rows into `dest` atomically, in the table's exact file schema; rows written.

    Rows go through Arrow record batches (bounded memory) rather than DuckDB's COPY, because
    COPY derives each column's nullability from the data, not from the definition. Row groups
    have a fixed size, so the same rows in the same order always give the same bytes.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    target = schema.arrow_schema()
    tmp = tmp_path(dest)
    n = 0
    try:
        reader = db.relation(con, query, params).to_arrow_reader(ROW_GROUP)
        with pq.ParquetWriter(tmp, target, use_dictionary=schema.dictionary_columns, **PARQUET_OPTIONS) as writer:
            for block in blocks((conform_batch(b, target, schema.name) for b in reader), ROW_GROUP):
                writer.write_table(block, row_group_size=ROW_GROUP)
                n += block.num_rows
            if n == 0:
                writer.write_table(target.empty_table(), row_group_size=ROW_GROUP)
        publish(tmp, dest)
        return n
    finally:
        tmp.unlink(missing_ok=True)


def commit_dir(staging: Path, dest: Path) -> None:
    """Rename a finished staging folder into place (one atomic step)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fsync_dir(staging)
    os.rename(staging, dest)
    fsync_dir(dest.parent)


def retire_dir(path: Path, trash: Path) -> None:
    """Move a committed folder out of the tables (atomic), then delete it."""
    trash.mkdir(parents=True, exist_ok=True)
    target = trash / f"{path.name}-{uuid.uuid4().hex[:8]}"
    os.rename(path, target)
    shutil.rmtree(target, ignore_errors=True)


def remove_tmp_files(folder: Path) -> int:
    """Delete temporary files left by a killed writer (only called under the write lock)."""
    n = 0
    if folder.exists():
        for p in folder.rglob(f".*{TMP_SUFFIX}"):
            p.unlink(missing_ok=True)
            n += 1
    return n


REPAIR_HINT = (
    "move it out of the workspace's tables/ folder (its rows are then missing) or restore it from a "
    "backup; a round's files come back by re-running the command that wrote it with --overwrite"
)


def footer(path: str | Path) -> pq.FileMetaData:
    """A Parquet file's footer; DataError naming the file (and how to repair) when it is damaged."""
    try:
        return pq.ParquetFile(path).metadata
    except (OSError, pa.ArrowException) as e:
        raise DataError(f"{path} is not a readable Parquet file ({e}): {REPAIR_HINT}") from None


def row_count(files: Iterable[str | Path]) -> int:
    """Rows in Parquet files, from their footers."""
    return sum(footer(f).num_rows for f in files)


def file_hash(path: Path, length: int = 32) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:length]


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(path)
    try:
        tmp.write_bytes(data)
        publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
