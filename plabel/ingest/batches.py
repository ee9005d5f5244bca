"""Probing candidates in worker processes, and committing probed rows in batches of part files.

Both the one-process ingest and the commit of a staged one (plabel.ingest.staged) end in
`flush`: the same queries decide, in candidate order, which copy of some bytes is the image and
which an alias, so an ingest gives the same rows however its probing was shared out.
"""
from __future__ import annotations

import multiprocessing as mp
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from plabel import db, distributed, storage
from plabel.errors import PlabelError
from plabel.ingest.options import JOB, Candidate, IngestResult
from plabel.ingest.probe import BATCH_SCHEMA, probe_many
from plabel.ingest.sources import chunks
from plabel.progress import Task
from plabel.queries import query
from plabel.schema import table
from plabel.workspace import Workspace

K = TypeVar("K")


def _pool(workers: int) -> ProcessPoolExecutor:
    # Never fork this process: DuckDB, Arrow and torch run thread pools whose locks a forked
    # child can inherit held. A fork server starts clean once, preloads the probing code, and
    # forks workers cheaply from there; a worker that dies fails the ingest instead of hanging it.
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["plabel.ingest.probe"])  # the probing code and what it imports
    return ProcessPoolExecutor(workers, mp_context=ctx)


def remember_known(con: duckdb.DuckDBPyConnection) -> None:
    """The paths and image ids the committed tables hold, as temporary tables."""
    db.execute(con, query("ingest/known_paths"))
    db.execute(con, query("ingest/known_ids"))


def probed(con: duckdb.DuckDBPyConnection, work: Iterable[tuple[K, list[Candidate]]], workers: int,
           pixel_limit: int, result: IngestResult, task: Task) -> Iterator[tuple[K, list[pa.RecordBatch]]]:
    """Each chunk's candidates not seen before, probed in worker processes (two chunks in flight),
    as (key, batches) in the order given."""
    pool = None
    pending: deque[tuple[K, Any]] = deque()  # result iterators of the chunks in flight
    try:
        for key, chunk in work:
            result.seen += len(chunk)
            fresh = [chunk[i] for i in unknown(con, [c.path for c in chunk])]
            result.skipped += len(chunk) - len(fresh)
            task.advance(len(chunk) - len(fresh))
            if pool is None and workers > 1 and fresh:
                pool = _pool(workers)
            jobs = [(part, pixel_limit) for part in chunks(fresh, JOB)]
            pending.append((key, [pool.submit(probe_many, j) for j in jobs] if pool else map(probe_many, jobs)))
            if len(pending) >= 2:
                done_key, results = pending.popleft()
                yield done_key, _drained(results, task)
        while pending:
            done_key, results = pending.popleft()
            yield done_key, _drained(results, task)
    finally:
        if pool:
            pool.shutdown(wait=True, cancel_futures=True)


def unknown(con: duckdb.DuckDBPyConnection, paths: list[str]) -> list[int]:
    """The positions of the paths no committed table (nor this run) has seen yet."""
    chunk = pa.table({"seq": pa.array(range(len(paths)), pa.int64()), "path": pa.array(paths, pa.string())})
    with db.registered(con, "chunk", chunk):
        db.execute(con, query("ingest/fresh"))
    db.execute(con, query("ingest/remember_paths"))  # a path listed twice is read once
    return [i for (i,) in db.rows(con, query("ingest/fresh_seq"))]


def _drained(results: Iterable[Any], task: Task) -> list[pa.RecordBatch]:
    out = []
    for batch in results:
        if isinstance(batch, Future):
            try:
                batch = batch.result()
            except BrokenProcessPool:
                raise PlabelError(
                    "an ingest worker process died; from a Python script, call plabel under "
                    "`if __name__ == '__main__':` (workers start fresh interpreters), or pass workers=1"
                ) from None
        out.append(batch)
        task.advance(batch.num_rows)
    return out


def flush(ws: Workspace, con: duckdb.DuckDBPyConnection, buffer: list[pa.RecordBatch], result: IngestResult,
          reasons: Counter[Any]) -> None:
    """Commit probed rows: new images (and their fingerprints), aliases, rejects."""
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


def workers(asked: int | None) -> int:
    """Worker processes for probing: as asked, else this process's share of the cores."""
    return asked or distributed.cores()
