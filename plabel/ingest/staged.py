"""Ingest shared out over tasks: torchrun's ranks, or the tasks of an array job (`shards` I/N).

A source's candidates are cut into units in one fixed order (a tar shard each, or blocks of
UNIT_FILES files: `Listed.units`). Task I of N probes the units u with u % N == I and writes each
as one Parquet file into the ingest's staging folder, named by the unit and a digest of its
paths; a staged unit is not probed again while its paths stay the same, so a killed task's rerun,
at any N, probes only what is missing. A task reads only its own shards, so the class names the
rows carry are checked at the commit. Nothing reaches the tables until the commit, which reads
the units in order and feeds them through the one-process ingest's `flush`: which copy of some
bytes becomes the image and which an alias is decided in the same order at any N, so the tables
are the same row for row. The commit is idempotent (paths already committed are skipped), so a
commit killed half way is finished by the next one.

Under torchrun, rank 0 holds the write lock for all ranks and commits after a barrier. Array
tasks stage without the lock; the task that finds every unit staged when it is through commits
under the lock, or `plabel commit` does.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from plabel import distributed, storage
from plabel.errors import DataError, LockHeld, PlabelError, UsageError, check_fields
from plabel.ingest.batches import flush, probed, remember_known, unknown, workers
from plabel.ingest.options import FLUSH_ROWS, Candidate, IngestOptions, IngestResult
from plabel.ingest.probe import BATCH_SCHEMA
from plabel.ingest.sources import Listed
from plabel.progress import NULL, Progress
from plabel.values import as_dict
from plabel.workspace import Workspace

PLAN = "plan.json"
CANDIDATES = "plabel.candidates"  # a unit file's metadata: how many candidates its unit had
_SHARE = re.compile(r"([0-9]+)/([0-9]+)")
_UNIT = re.compile(r"unit-([0-9]{9})-([0-9a-f]{16})\.parquet")
# what the commit needs; not how the work is shared out (workers, shards)
ROW_OPTIONS = ("split", "classes", "add_classes", "withheld_labels", "pixel_limit", "allow_outside", "label_key")
# of them, what decides the staged rows: a rerun with `add_classes` finishes the same staging
KEY_OPTIONS = tuple(k for k in ROW_OPTIONS if k != "add_classes")


@dataclass(frozen=True)
class Share:
    """Which task this process is (index) of how many (count); torchrun: ranks of a process group."""

    index: int
    count: int
    torchrun: bool


def parse_share(text: str) -> tuple[int, int]:
    m = _SHARE.fullmatch(text.strip())
    if not m or not 0 <= int(m[1]) < int(m[2]):
        raise UsageError(f"`shards` must be I/N with 0 <= I < N (task I of N tasks, I from 0), got {text!r}")
    return int(m[1]), int(m[2])


def share(o: IngestOptions) -> Share | None:
    """This process's share of the work: from `shards`, from torchrun, or None (all of it, at once)."""
    if o.shards is not None:
        if distributed.env_world() > 1:
            raise UsageError("`shards` and torchrun both share the work out: use one of them")
        return Share(*parse_share(o.shards), torchrun=False)
    distributed.init()
    return Share(distributed.rank(), distributed.world(), True) if distributed.active() else None


# -- the staging folder ----------------------------------------------------------------------
@dataclass(frozen=True)
class Staging:
    """An ingest's staging folder: its plan (source, options, how many units) and staged units."""

    folder: Path

    @property
    def plan(self) -> dict[str, Any]:
        path = self.folder / PLAN
        try:
            plan = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(plan, dict) or not isinstance(plan.get("units"), int):
                raise ValueError("not a plan")
            return plan
        except (OSError, ValueError) as e:
            raise DataError(f"{path}: not an ingest plan ({e}); remove {self.folder} and ingest again") from None

    def staged(self) -> dict[int, Path]:
        found = {}
        for p in self.folder.iterdir() if self.folder.exists() else []:
            if m := _UNIT.fullmatch(p.name):
                found[int(m[1])] = p
        return found

    def missing(self) -> list[int]:
        staged = self.staged()
        return [u for u in range(self.plan["units"]) if u not in staged]

    def options(self) -> IngestOptions:
        plan = self.plan
        try:
            o = IngestOptions(source=str(plan["source"]), **{k: plan["options"][k] for k in ROW_OPTIONS})
            check_fields(o)
            return o
        except (KeyError, TypeError, UsageError) as e:
            raise DataError(f"{self.folder / PLAN}: not an ingest plan ({e}); remove {self.folder} and ingest "
                            "again") from None


def _key(o: IngestOptions, source: Path) -> str:
    said = {"source": str(source), **{k: as_dict(o)[k] for k in KEY_OPTIONS}}
    return hashlib.sha256(json.dumps(said, sort_keys=True).encode()).hexdigest()[:16]


def _folder(ws: Workspace, o: IngestOptions, source: Path) -> Path:
    return ws.table_dir("images") / ".staging" / f"ingest-{_key(o, source)}"


def exists(ws: Workspace, o: IngestOptions, source: Path) -> bool:
    """Whether an ingest of this source with these options was staged and not committed."""
    return (_folder(ws, o, source) / PLAN).exists()


def all_staged(ws: Workspace) -> list[Staging]:
    root = ws.table_dir("images") / ".staging"
    return [Staging(p) for p in sorted(root.glob("ingest-*")) if (p / PLAN).exists()] if root.exists() else []


def open_staging(ws: Workspace, o: IngestOptions, source: Path, listed: Listed) -> Staging:
    """The staging folder of this ingest, its plan written (again, where the source has changed)."""
    st = Staging(_folder(ws, o, source))
    units = listed.unit_count()
    plan = {"source": str(source), "options": {k: as_dict(o)[k] for k in ROW_OPTIONS}, "units": units}
    if not (st.folder / PLAN).exists() or st.plan != plan:
        for u, p in st.staged().items():
            if u >= units:
                p.unlink(missing_ok=True)
        storage.write_text_atomic(st.folder / PLAN, json.dumps(plan, indent=1))
    return st


# -- staging this task's units ---------------------------------------------------------------
def _digest(unit: list[Candidate]) -> str:
    h = hashlib.sha256()
    for c in unit:
        h.update(c.path.encode("utf-8", "surrogateescape") + b"\0")
    return h.hexdigest()[:16]


def _mine(st: Staging, listed: Listed, sh: Share) -> Iterator[tuple[tuple[Path, int], list[Candidate]]]:
    """((file to write, candidates in the unit), candidates) of this task's units not staged yet
    (or staged for other paths)."""
    staged = st.staged()
    for u, lazy in enumerate(listed.units()):
        if u % sh.count != sh.index:
            continue  # another task's: its shard is never read here (a block of files was only walked)
        unit = list(lazy)
        dest = st.folder / f"unit-{u:09d}-{_digest(unit)}.parquet"
        if staged.get(u) == dest:
            continue
        if u in staged:
            staged[u].unlink(missing_ok=True)  # the source changed since: probed again
        yield (dest, len(unit)), unit


def stage(ws: Workspace, o: IngestOptions, st: Staging, listed: Listed, sh: Share, result: IngestResult,
          progress: Progress = NULL) -> None:
    """Probe this task's units and write each to the staging folder (one Parquet file a unit)."""
    task = progress.task(f"ingest (task {sh.index} of {sh.count})", None, "files")
    try:
        with ws.connect() as con:
            remember_known(con)  # a path committed before is not probed again
            for (dest, n), batches in probed(con, _mine(st, listed, sh), workers(o.workers), o.pixel_limit, result,
                                             task):
                rows = pa.Table.from_batches(batches, BATCH_SCHEMA)  # the unit's paths not committed before
                storage.write_parquet(rows.replace_schema_metadata({CANDIDATES: str(n)}), dest)
                result.staged += 1
    finally:
        task.close()


# -- the commit ------------------------------------------------------------------------------
def commit(ws: Workspace, st: Staging, result: IngestResult, progress: Progress = NULL) -> None:
    """Commit every staged unit, in unit order, through the one-process flush; then drop the
    staging folder. The caller holds the write lock."""
    from plabel.ingest.run import add_classes

    missing = st.missing()
    if missing:
        raise PlabelError(f"{st.plan['source']}: {len(missing)} of {st.plan['units']} units are not staged yet "
                          f"(first: unit {missing[0]}); run the tasks that stage them, then commit")
    units = [path for _, path in sorted(st.staged().items())]
    add_classes(ws, _labels(units), st.options(), result)  # an unknown class fails here, before any row
    _commit_units(ws, units, result, progress)
    storage.retire_dir(st.folder, ws.trash_dir)


def _commit_units(ws: Workspace, units: list[Path], result: IngestResult, progress: Progress) -> None:
    reasons: Counter[Any] = Counter()
    task = progress.task("ingest commit", len(units), "units")
    buffer: list[pa.RecordBatch] = []
    passed = seen = 0
    with ws.connect() as con:
        remember_known(con)
        for path in units:
            rows, n = _read_unit(path), _candidates(path)
            fresh = unknown(con, rows.column("path").to_pylist())  # a path's first copy, if not committed before
            rows = rows.take(pa.array(fresh, pa.int64()))
            passed, seen = passed + rows.num_rows, seen + n
            buffer += rows.to_batches()
            if sum(b.num_rows for b in buffer) >= FLUSH_ROWS:
                flush(ws, con, buffer, result, reasons)
                buffer = []
            task.advance(1)
        flush(ws, con, buffer, result, reasons)
    task.close()
    result.seen, result.skipped, result.units = seen, seen - passed, len(units)
    result.reasons = dict(reasons.most_common())


def _labels(units: list[Path]) -> set[str]:
    """The class names the staged rows carry (as labels or withheld labels)."""
    found: set[str] = set()
    for path in units:
        for column in _read_unit(path, ["label", "true_label"]).columns:
            found.update(v for v in column.unique().to_pylist() if v)
    return found


def _read_unit(path: Path, columns: list[str] | None = None) -> pa.Table:
    try:
        return pq.read_table(path, columns=columns, schema=BATCH_SCHEMA)
    except (OSError, pa.ArrowException) as e:
        raise DataError(f"{path}: not a staged unit ({e}); remove it and run its task again") from None


def _candidates(path: Path) -> int:
    """How many candidates the unit had (its rows are those not committed before)."""
    try:
        return int((pq.read_schema(path).metadata or {})[CANDIDATES.encode()])
    except (OSError, pa.ArrowException, KeyError, ValueError) as e:
        raise DataError(f"{path}: not a staged unit ({e}); remove it and run its task again") from None


def commit_staged(ws: Workspace, progress: Progress = NULL) -> list[IngestResult]:
    """`plabel commit`: commit every staged ingest whose units are all staged (the array-job step
    after the tasks); the others are reported with how many units they still lack."""
    import time
    import uuid

    out = []
    with ws.writing("plabel commit"):
        for st in all_staged(ws):
            started = time.perf_counter()
            result = IngestResult(ingest_id=uuid.uuid4().hex[:12], source=st.plan["source"])
            missing = st.missing()
            if missing:
                result.committed, result.units, result.pending = False, st.plan["units"], len(missing)
            else:
                commit(ws, st, result, progress)
            result.seconds = time.perf_counter() - started
            out.append(result)
    return out


# -- the shared ingest -----------------------------------------------------------------------
def ingest_shared(ws: Workspace, o: IngestOptions, listed: Listed, sh: Share, result: IngestResult,
                  progress: Progress = NULL) -> None:
    """Stage this task's units; commit when every unit is staged (torchrun: rank 0, after all)."""
    source = Path(result.source)
    if sh.torchrun:
        with distributed.writing(ws, f"plabel ingest {source}"):
            with distributed.main_first():  # rank 0 writes the plan; the others read it
                st = open_staging(ws, o, source, listed) if distributed.is_main() else Staging(_folder(ws, o, source))
            stage(ws, o, st, listed, sh, result, progress)
            distributed.barrier()  # every rank's units are staged
            if distributed.is_main():
                commit(ws, st, result, progress)
        _take_main(result)
        return
    st = open_staging(ws, o, source, listed)
    stage(ws, o, st, listed, sh, result, progress)
    result.units, result.pending, result.committed = listed.unit_count(), len(st.missing()), False
    if result.pending == 0:
        _commit_last(ws, st, result, progress)


def _commit_last(ws: Workspace, st: Staging, result: IngestResult, progress: Progress) -> None:
    """The last task through commits; when another command holds the lock, `plabel commit` will."""
    staged = result.staged
    try:
        with ws.writing(f"plabel ingest {result.source} (commit)"):
            if (st.folder / PLAN).exists():  # another last task may have committed it just now
                commit(ws, st, result, progress)
            result.committed = True
    except LockHeld as e:
        result.notes.append(f"every unit is staged but the commit waits: {e}; run `plabel commit`")
    result.staged = staged


def _take_main(result: IngestResult) -> None:
    """Rank 0's counts of the commit, on every rank (each staged its own units)."""
    staged = result.staged
    main = distributed.broadcast(as_dict(result))
    for f in fields(result):
        setattr(result, f.name, main[f.name])
    result.staged = staged
