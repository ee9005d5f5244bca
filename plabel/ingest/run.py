"""`ingest`: new files probed in worker processes, committed in batches of part files."""
from __future__ import annotations

import multiprocessing as mp
import os
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from plabel import db, storage
from plabel.errors import PlabelError, UsageError, check_fields
from plabel.ingest.classes import resolve_classes
from plabel.ingest.options import CHUNK, FLUSH_ROWS, JOB, Candidate, IngestOptions, IngestResult
from plabel.ingest.probe import BATCH_SCHEMA, probe_many
from plabel.ingest.sources import candidates
from plabel.ingest.tars import shard_source
from plabel.progress import NULL, Progress, Task
from plabel.queries import query
from plabel.schema import table
from plabel.workspace import Workspace


# -- the ingest ------------------------------------------------------------------------------
def _pool(workers: int) -> ProcessPoolExecutor:
    # Never fork this process: DuckDB, Arrow and torch run thread pools whose locks a forked
    # child can inherit held. A fork server starts clean once, preloads the probing code, and
    # forks workers cheaply from there; a worker that dies fails the ingest instead of hanging it.
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["plabel.ingest.probe"])  # the probing code and what it imports
    return ProcessPoolExecutor(workers, mp_context=ctx)


def ingest(ws: Workspace, options: IngestOptions, progress: Progress = NULL) -> IngestResult:
    """Register the images under `options.source` (a folder with a split, a CSV/Parquet listing, or
    tar shards)."""
    started = time.perf_counter()
    o = options
    check_fields(o)
    if o.withheld_labels and o.split != "unlabeled":
        raise UsageError("`withheld_labels` applies to `split` unlabeled")
    from_shards = shard_source(ws, str(o.source), o)
    source = Path(os.path.abspath(o.source))
    if from_shards is None and not source.exists():
        raise UsageError(f"no such file or folder: {source}")
    cands, total, found = from_shards or candidates(ws, source, o.split, o.withheld_labels, o.allow_outside)
    result = IngestResult(ingest_id=uuid.uuid4().hex[:12], source=str(source))
    with ws.writing(f"plabel ingest {source}"):
        to_add = resolve_classes(ws, found, o.classes, o.add_classes)[1] if found or o.classes else []
        if to_add:
            ws.append_classes(to_add)
            result.classes_added = to_add
        _run(ws, _Pending(cands, total), result, o, progress)
    result.seconds = time.perf_counter() - started
    return result


@dataclass
class _Pending:
    """The candidates still to look at, and how many there are (for the progress bar)."""

    candidates: Iterable[Candidate]
    total: int


def _run(ws: Workspace, pending_candidates: _Pending, result: IngestResult, o: IngestOptions,
         progress: Progress) -> None:
    with ws.connect() as con:
        db.execute(con, query("ingest/known_paths"))
        db.execute(con, query("ingest/known_ids"))
        _probe_all(ws, con, pending_candidates, result, o, progress)


def _probe_all(ws: Workspace, con: duckdb.DuckDBPyConnection, pending_candidates: _Pending, result: IngestResult,
               o: IngestOptions, progress: Progress) -> None:
    """Probe the candidates not seen before, in worker processes, flushing rows as they come."""
    workers, pixel_limit = o.workers or os.cpu_count() or 1, o.pixel_limit
    task = progress.task("ingest", pending_candidates.total, "files")
    pool = None
    pending: deque[Any] = deque()  # result iterators of the chunks in flight (at most two)
    buffer: list[pa.RecordBatch] = []
    reasons: Counter[Any] = Counter()
    try:
        for chunk in _chunks(pending_candidates.candidates, CHUNK):
            result.seen += len(chunk)
            fresh = _unknown(con, chunk)
            result.skipped += len(chunk) - len(fresh)
            task.advance(len(chunk) - len(fresh))
            if pool is None and workers > 1:
                pool = _pool(workers)
            jobs = [(part, pixel_limit) for part in _chunks(fresh, JOB)]
            pending.append([pool.submit(probe_many, j) for j in jobs] if pool else map(probe_many, jobs))
            if len(pending) >= 2:
                _drain(pending.popleft(), buffer, task)
            if sum(b.num_rows for b in buffer) >= FLUSH_ROWS:
                _flush(ws, con, buffer, result, reasons)
                buffer = []
        while pending:
            _drain(pending.popleft(), buffer, task)
        _flush(ws, con, buffer, result, reasons)
    finally:
        if pool:
            pool.shutdown(wait=True, cancel_futures=True)
        task.close()
    result.reasons = dict(reasons.most_common())


def _chunks(items: Iterable[Any], n: int) -> Iterator[list[Any]]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _unknown(con: duckdb.DuckDBPyConnection, cands: list[Candidate]) -> list[Candidate]:
    """The candidates whose paths no committed table (nor this run) has seen yet."""
    chunk = pa.table({"seq": pa.array(range(len(cands)), pa.int64()), "path": [c.path for c in cands]})
    with db.registered(con, "chunk", chunk):
        db.execute(con, query("ingest/fresh"))
    db.execute(con, query("ingest/remember_paths"))  # a path listed twice is read once
    return [cands[i] for (i,) in db.rows(con, query("ingest/fresh_seq"))]


def _drain(results: Iterable[Any], buffer: list[Any], task: Task) -> None:
    for batch in results:
        if isinstance(batch, Future):
            try:
                batch = batch.result()
            except BrokenProcessPool:
                raise PlabelError(
                    "an ingest worker process died; from a Python script, call plabel under "
                    "`if __name__ == '__main__':` (workers start fresh interpreters), or pass workers=1"
                ) from None
        buffer.append(batch)
        task.advance(batch.num_rows)


def _flush(ws: Workspace, con: duckdb.DuckDBPyConnection, buffer: list[pa.RecordBatch], result: IngestResult,
           reasons: Counter[Any]) -> None:
    if not buffer:
        return
    data = pa.Table.from_batches(buffer, BATCH_SCHEMA)
    with db.registered(con, "batch_arrow", data.append_column("seq", pa.array(range(data.num_rows), pa.int64()))):
        db.execute(con, query("ingest/batch"))
    db.execute(con, query("ingest/ranked"))
    stamp = {"ingest_id": result.ingest_id, "now": datetime.now(timezone.utc)}
    counts = db.row(con, query("ingest/counts"))
    result.label_conflicts += db.scalar(con, query("ingest/label_conflicts"))
    # fingerprints before images before aliases before rejects: a kill between them leaves only
    # paths that the next run has not seen yet (and a fingerprint it writes again: readers take one).
    if counts[0]:
        storage.write_query(con, query("ingest/new_fingerprints"), [], ws.table_dir("fingerprints") /
                            storage.part_name(), table("fingerprints"))
    for name, n in (("images", counts[0]), ("aliases", counts[1])):
        if n:
            storage.write_query(con, query(f"ingest/new_{name}"), stamp, ws.table_dir(name) / storage.part_name(),
                                table(name))
    rejected = [r for r in data.column("reason").to_pylist() if r is not None]
    if rejected:
        storage.write_query(
            con, query("ingest/new_rejects"), stamp, ws.table_dir("rejects") / storage.part_name(), table("rejects")
        )
    reasons.update(r.split(":")[0] for r in rejected)
    db.execute(con, query("ingest/remember_ids"))
    result.added += counts[0]
    result.aliases += counts[1]
    result.rejected += len(rejected)
