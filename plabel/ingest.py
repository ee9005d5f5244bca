"""`plabel ingest`: register image files (ImageFolder trees, folders, listings) as rows.

Files are hashed and fully decoded in worker processes; rows are committed in batches as
Parquet part files (images, then aliases, then rejects), so memory stays bounded and a killed
ingest leaves only whole batches behind. Which paths are already known is read from the
committed tables, so running the same ingest again adds nothing and a killed one resumes.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from plabel import db, storage
from plabel.errors import PlabelError, UsageError
from plabel.images import DEFAULT_PIXEL_LIMIT, RejectedImage, probe, quiet_pillow, read_bytes
from plabel.progress import NULL
from plabel.schema import table
from plabel.sql import query
from plabel.workspace import SPLITS, Workspace, _check_class_names

LABELED_SPLITS = ("train", "val", "test")
FLUSH_ROWS = 8192  # rows per committed part file
CHUNK = 2048  # candidates checked against the known paths at a time
JOB = 128  # files per job sent to a worker process



@dataclass
class Candidate:
    path: str  # as stored (see Workspace.store_path)
    fs_path: str  # as opened
    split: str
    label: str | None = None
    true_label: str | None = None
    reason: str | None = None  # known to be unusable before reading it


@dataclass
class IngestResult:
    ingest_id: str
    source: str
    seen: int = 0
    skipped: int = 0  # already known from an earlier ingest
    added: int = 0
    aliases: int = 0
    rejected: int = 0
    label_conflicts: int = 0
    classes_added: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def files_per_s(self) -> float:
        return (self.seen - self.skipped) / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["files_per_s"] = round(self.files_per_s, 1)
        d["seconds"] = round(self.seconds, 3)
        return d


# -- reading files (runs in worker processes) ------------------------------------------------
BATCH_SCHEMA = pa.schema(
    [("path", pa.string()), ("split", pa.string()), ("label", pa.string()), ("true_label", pa.string()),
     ("image_id", pa.string()), ("bytes", pa.int64()), ("width", pa.int32()), ("height", pa.int32()),
     ("mode", pa.string()), ("format", pa.string()), ("reason", pa.string())]
)


def _probe_many(job: tuple[list, int]) -> pa.RecordBatch:
    """Probe a list of candidates into one Arrow batch (cheap to send back, ready to write)."""
    cands, pixel_limit = job
    cols: list[list] = [[] for _ in BATCH_SCHEMA]
    with quiet_pillow():
        for c in cands:
            info, reason = None, c.reason
            if reason is None:
                try:
                    info = probe(read_bytes(c.fs_path), pixel_limit)
                except RejectedImage as e:
                    reason = str(e)
            values = (c.path, c.split, c.label, c.true_label) + (
                (info.image_id, info.bytes, info.width, info.height, info.mode, info.format)
                if info else (None,) * 6
            ) + (reason,)
            for col, v in zip(cols, values, strict=False):
                col.append(v)
    return pa.RecordBatch.from_arrays([pa.array(c, f.type) for c, f in zip(cols, BATCH_SCHEMA,
        strict=False)], schema=BATCH_SCHEMA)


# -- finding candidates ----------------------------------------------------------------------
def _printable(path: str) -> tuple[str, str | None]:
    """(text to store, reason) for a path whose bytes may not be valid UTF-8."""
    try:
        path.encode("utf-8")
        return path, None
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace"), "file name is not valid UTF-8"


def _walk(root: Path) -> Iterator[str]:
    """Every non-hidden file below root, in a stable order, without following folder links."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield os.path.join(dirpath, name)


def _class_folders(root: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(root) if e.is_dir(follow_symlinks=True) and not e.name.startswith("."))


def _folder_candidates(ws: Workspace, root: Path, split: str, labels_from_folders: bool) -> Iterator[Candidate]:
    prefix = len(str(root)) + 1
    for fs_path in _walk(root):
        stored, reason = _printable(ws.store_path(fs_path))
        label = None
        if labels_from_folders:
            parts = fs_path[prefix:].split(os.sep)
            if len(parts) < 2:
                reason = reason or "not inside a class folder"
            else:
                label = parts[0]
        if split == "unlabeled":
            yield Candidate(stored, fs_path, split, None, label, reason)
        else:
            yield Candidate(stored, fs_path, split, label, None, reason)


def _escapes(path: str, root: Path) -> bool:
    """Whether a listed path leads outside the listing's folder, `..` or symbolic links followed."""
    real_root = os.path.realpath(root)
    resolved = os.path.realpath(os.path.join(root, path))
    return os.path.commonpath([resolved, real_root]) != real_root


def _listing_rows(ws: Workspace, listing: Path) -> Iterator[dict]:
    con = ws.connect()
    try:
        sql = query("ingest/listing_parquet") if listing.suffix.lower() == ".parquet" else query("ingest/listing")
        rel = db.cursor(con, sql, [storage.literal_path(listing)])
        names = [d[0] for d in rel.description]
        if "path" not in names:
            raise UsageError(f"{listing}: a listing needs a `path` column (found: {', '.join(names)})")
        while True:
            rows = rel.fetchmany(CHUNK)
            if not rows:
                return
            for row in rows:
                yield dict(zip(names, row, strict=False))
    finally:
        con.close()


def _listing_candidates(ws: Workspace, listing: Path, split: str | None, allow_outside: bool) -> Iterator[Candidate]:
    root = listing.parent
    for n, row in enumerate(_listing_rows(ws, listing), start=2):
        raw = row.get("path")
        if raw is None or str(raw).strip() == "":
            raise UsageError(f"{listing}: row {n} has an empty path")
        raw = str(raw)
        row_split = (row.get("split") or split or "").strip()
        if row_split not in SPLITS:
            raise UsageError(
                f"{listing}: row {n}: split {row_split!r} is not one of {', '.join(SPLITS)} "
                "(give a `split` column or --split)"
            )
        if not allow_outside and _escapes(raw, root):
            raise UsageError(
                f"{listing}: row {n}: path {raw!r} escapes the listing's folder {root} (pass --allow-outside to allow)"
            )
        label = row.get("label")
        label = str(label).strip() if label not in (None, "") else None
        if row_split in LABELED_SPLITS and label is None:
            raise UsageError(f"{listing}: row {n}: a {row_split} image needs a label")
        fs_path = os.path.normpath(os.path.join(root, raw))
        stored, reason = _printable(ws.store_path(fs_path))
        if row_split == "unlabeled":
            yield Candidate(stored, fs_path, row_split, None, label, reason)
        else:
            yield Candidate(stored, fs_path, row_split, label, None, reason)


def _candidates(ws, source: Path, split, withheld_labels, allow_outside) -> tuple[Iterable[Candidate], int, set[str]]:
    """(candidates, how many, class names they carry), validated before anything is written."""
    if split is not None and split not in SPLITS:
        raise UsageError(f"--split must be one of {', '.join(SPLITS)} (got {split!r})")
    if source.is_dir():
        if split is None:
            raise UsageError(f"--split is required for a folder: one of {', '.join(SPLITS)}")
        by_folder = split in LABELED_SPLITS or withheld_labels
        total = sum(1 for _ in _walk(source))
        found = set(_class_folders(source)) if by_folder else set()
        return _folder_candidates(ws, source, split, by_folder), total, found
    if source.suffix.lower() in (".csv", ".parquet"):
        total, found, first = 0, set[str](), dict[str, tuple]()
        for c in _listing_candidates(ws, source, split, allow_outside):  # every row checked first
            total += 1
            label = c.label or c.true_label
            if label:
                found.add(label)
            said = first.setdefault(c.fs_path, (total, c.split, label))
            if said[1:] != (c.split, label):
                raise UsageError(
                    f"{source}: rows {said[0] + 1} and {total + 1} list {c.path!r} with different splits or labels "
                    f"({said[1]}/{said[2]} and {c.split}/{c.label or c.true_label}); keep one"
                )
        return _listing_candidates(ws, source, split, allow_outside), total, found
    raise UsageError(f"{source}: expected a folder, or a listing ending in .csv or .parquet")


# -- classes ---------------------------------------------------------------------------------
def _resolve_classes(
    ws: Workspace, found: set[str], classes: list[str] | None, add_classes: bool
) -> tuple[list[str], list[str]]:
    """(all classes after this ingest, classes to add); raises before anything is written."""
    existing = ws.class_names()
    if not existing:
        declared = classes or ws.config.get("workspace", {}).get("classes")
        if declared:
            _check_class_names(list(declared))
            unknown = sorted(found - set(declared))
            if unknown and not add_classes:
                raise UsageError(
                    f"labels not in the class list: {', '.join(unknown[:10])} (pass --add-classes to add them)"
                )
            new = list(declared) + unknown
        else:
            new = sorted(found)
        return new, new
    if classes and list(classes) != existing[: len(classes)]:
        raise UsageError(f"the workspace's classes are already fixed: {', '.join(existing[:20])}")
    unknown = sorted(found - set(existing))
    if unknown and not add_classes:
        raise UsageError(
            f"unknown classes: {', '.join(unknown[:10])}{' ...' if len(unknown) > 10 else ''} "
            "(the class list is fixed by the first labeled ingest; pass --add-classes to extend it)"
        )
    return existing + unknown, unknown


# -- the ingest ------------------------------------------------------------------------------
def _pool(workers: int) -> ProcessPoolExecutor:
    # Never fork this process: DuckDB, Arrow and torch run thread pools whose locks a forked
    # child can inherit held. A fork server starts clean once, preloads the probing code, and
    # forks workers cheaply from there; a worker that dies fails the ingest instead of hanging it.
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["plabel.images", "pyarrow"])
    return ProcessPoolExecutor(workers, mp_context=ctx)


@dataclass(frozen=True)
class IngestOptions:
    split: str | None = None  # train, val, test (a folder of class folders) or unlabeled; listings may say
    classes: list[str] | None = None  # the class list in id order, for the first labeled ingest
    add_classes: bool = False  # append classes not yet in the workspace instead of failing
    withheld_labels: bool = False  # unlabeled class folders hold withheld ground truth
    workers: int | None = None  # processes hashing and decoding (None: every core)
    pixel_limit: int = DEFAULT_PIXEL_LIMIT  # larger images are rejects (decompression bombs)
    allow_outside: bool = False  # listing paths may leave the listing's folder


def ingest(ws: Workspace, source: str | os.PathLike, options: IngestOptions | None = None, progress=NULL,
           **keywords) -> IngestResult:
    """Register the images under `source` (a folder with a split, or a CSV/Parquet listing).

    Options come as an IngestOptions, or as its fields by keyword: `ingest(ws, "data", split="train")`.
    """
    started = time.perf_counter()
    o = replace(options or IngestOptions(), **keywords)
    source = Path(os.path.abspath(source))
    if not source.exists():
        raise UsageError(f"no such file or folder: {source}")
    if o.withheld_labels and o.split != "unlabeled":
        raise UsageError("--withheld-labels applies to --split unlabeled")
    cands, total, found = _candidates(ws, source, o.split, o.withheld_labels, o.allow_outside)
    result = IngestResult(uuid.uuid4().hex[:12], str(source))
    with ws.writing(f"plabel ingest {source}"):
        if found or o.classes:
            all_classes, to_add = _resolve_classes(ws, found, o.classes, o.add_classes)
        else:
            all_classes, to_add = ws.class_names(), []
        if to_add:
            first, now = len(all_classes) - len(to_add), datetime.now(timezone.utc)
            rows = [{"class_id": first + i, "name": name, "added_at": now} for i, name in enumerate(to_add)]
            storage.write_rows(rows, ws.table_dir("classes") / storage.part_name(), table("classes"))
            result.classes_added = to_add
        _run(ws, _Pending(cands, total), result, o, progress)
    result.seconds = time.perf_counter() - started
    return result


@dataclass
class _Pending:
    """The candidates still to look at, and how many there are (for the progress bar)."""

    candidates: Iterable[Candidate]
    total: int


def _run(ws: Workspace, pending_candidates: _Pending, result: IngestResult, o: IngestOptions, progress) -> None:
    workers, pixel_limit = o.workers or os.cpu_count() or 1, o.pixel_limit
    con = ws.connect()
    db.execute(con, query("ingest/known_paths"))
    db.execute(con, query("ingest/known_ids"))
    task = progress.task("ingest", pending_candidates.total, "files")
    pool = None
    pending: deque = deque()  # result iterators of the chunks in flight (at most two)
    buffer: list[pa.RecordBatch] = []
    reasons: Counter = Counter()
    try:
        for chunk in _chunks(pending_candidates.candidates, CHUNK):
            result.seen += len(chunk)
            fresh = _unknown(con, chunk)
            result.skipped += len(chunk) - len(fresh)
            task.advance(len(chunk) - len(fresh))
            if pool is None and workers > 1:
                pool = _pool(workers)
            jobs = [(part, pixel_limit) for part in _chunks(fresh, JOB)]
            pending.append([pool.submit(_probe_many, j) for j in jobs] if pool else map(_probe_many, jobs))
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
        con.close()
    result.reasons = dict(reasons.most_common())


def _chunks(items: Iterable, n: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _unknown(con, cands: list[Candidate]) -> list[Candidate]:
    """The candidates whose paths no committed table (nor this run) has seen yet."""
    chunk = pa.table({"seq": pa.array(range(len(cands)), pa.int64()), "path": [c.path for c in cands]})
    with db.registered(con, "chunk", chunk):
        db.execute(con, query("ingest/fresh"))
    db.execute(con, query("ingest/remember_paths"))  # a path listed twice is read once
    return [cands[i] for (i,) in db.rows(con, query("ingest/fresh_seq"))]


def _drain(results, buffer: list, task) -> None:
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


def _flush(ws: Workspace, con, buffer: list[pa.RecordBatch], result: IngestResult, reasons: Counter) -> None:
    if not buffer:
        return
    data = pa.Table.from_batches(buffer, BATCH_SCHEMA)
    with db.registered(con, "batch_arrow", data.append_column("seq", pa.array(range(data.num_rows), pa.int64()))):
        db.execute(con, query("ingest/batch"))
    db.execute(con, query("ingest/ranked"))
    stamp = [result.ingest_id, datetime.now(timezone.utc)]
    counts = db.row(con, query("ingest/counts"))
    result.label_conflicts += db.scalar(con, query("ingest/label_conflicts"))
    # images before aliases before rejects: a kill between them leaves only paths that the
    # next run has not seen yet, and it finds the same answers for them.
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
