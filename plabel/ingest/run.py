"""`ingest`: new files probed in worker processes, committed in batches of part files."""
from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa

from plabel.errors import UsageError, check_fields
from plabel.ingest import staged
from plabel.ingest.batches import flush, probed, remember_known, workers
from plabel.ingest.classes import resolve_classes
from plabel.ingest.options import CHUNK, FLUSH_ROWS, IngestOptions, IngestResult
from plabel.ingest.sources import Listed, candidates, chunks
from plabel.ingest.tars import shard_source
from plabel.progress import NULL, Progress
from plabel.workspace import Workspace


def ingest(ws: Workspace, options: IngestOptions, progress: Progress = NULL) -> IngestResult:
    """Register the images under `options.source` (a folder with a split, a CSV/Parquet listing, or
    tar shards). Under torchrun, or as task I of N (`shards`), the probing is shared out
    (plabel.ingest.staged); the rows are the same."""
    started = time.perf_counter()
    o = options
    check_fields(o)
    if o.withheld_labels and o.split != "unlabeled":
        raise UsageError("`withheld_labels` applies to `split` unlabeled")
    share = staged.share(o)  # before reading the source: a bad `shards` is a usage error first
    listed, source = listed_source(ws, o, scan=share is None)
    resolve_classes(ws, listed.found, o.classes, o.add_classes)  # a class error before any work
    result = IngestResult(ingest_id=uuid.uuid4().hex[:12], source=str(source))
    if share is not None or staged.exists(ws, o, source):
        staged.ingest_shared(ws, o, listed, share or staged.Share(0, 1, False), result, progress)
    else:
        with ws.writing(f"plabel ingest {source}"):
            add_classes(ws, listed.found, o, result)
            _run(ws, listed, result, o, progress)
    result.seconds = time.perf_counter() - started
    return result


def listed_source(ws: Workspace, o: IngestOptions, scan: bool = True) -> tuple[Listed, Path]:
    """What the source holds (validated), and its absolute path; `scan`: see shard_source."""
    from_shards = shard_source(ws, str(o.source), o, scan)
    source = Path(os.path.abspath(o.source))
    if from_shards is None and not source.exists():
        raise UsageError(f"no such file or folder: {source}")
    return from_shards or candidates(ws, source, o.split, o.withheld_labels, o.allow_outside), source


def add_classes(ws: Workspace, found: set[str], o: IngestOptions, result: IngestResult) -> None:
    """Append the classes the source brings (as allowed); under the write lock."""
    to_add = resolve_classes(ws, found, o.classes, o.add_classes)[1] if found or o.classes else []
    if to_add:
        ws.append_classes(to_add)
        result.classes_added = to_add


def _run(ws: Workspace, listed: Listed, result: IngestResult, o: IngestOptions, progress: Progress) -> None:
    """Probe the candidates not seen before, flushing rows as they come."""
    task = progress.task("ingest", listed.total, "files")
    buffer: list[pa.RecordBatch] = []
    reasons: Counter[Any] = Counter()
    try:
        with ws.connect() as con:
            remember_known(con)
            work = ((None, chunk) for chunk in chunks(listed.candidates, CHUNK))
            for _, batches in probed(con, work, workers(o.workers), o.pixel_limit, result, task):
                buffer += batches
                if sum(b.num_rows for b in buffer) >= FLUSH_ROWS:
                    flush(ws, con, buffer, result, reasons)
                    buffer = []
            flush(ws, con, buffer, result, reasons)
    finally:
        task.close()
    result.reasons = dict(reasons.most_common())
