"""`plabel select`: the Noisy Student selection, in DuckDB, from round R's predictions to a manifest.

Pseudo-label candidates are round R's predictions of unlabeled images with confidence at or
above the threshold, minus val/test contamination (exact and near) and, unless
`keep_duplicates`, the non-representative members of duplicate groups. Then, per predicted class:

- topk (the paper's text): keep the N most confident; a class with fewer is duplicated up to N,
  the copies spread evenly (N // c each, one more for the N % c most confident).
- copies (the official filter_unlabel.py): walk the class's confidence histogram (0.01 bins)
  down from the top until N images are reached, never below the threshold; each image at or
  above that cutoff gets c = N / count copies, applied as int(c) + Bernoulli(frac(c)), the draw
  seeded by (seed, image id).
- none: every candidate once.

Everything runs as SQL over the Parquet files with bound parameters and streams to the
manifest; the per-class histogram (classes x 101 bins) is the only thing walked in Python.
"""
from __future__ import annotations

import hashlib
import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import pyarrow as pa

from plabel import db, storage
from plabel.errors import DataError, UnknownRound, UsageError, check_finite
from plabel.progress import NULL
from plabel.schema import table
from plabel.sql import query
from plabel.workspace import Workspace

BALANCES = ("topk", "copies", "none")
LABELS = ("hard", "soft")

# Registries of the query files a selection runs (schemas/queries/selection/). Each defines, or
# reads, temporary table macros: candidates -> binned -> eligible -> pseudo -> selected.
CANDIDATES = {True: "selection/candidates", False: "selection/candidates_none_excluded"}
PSEUDO = {"topk": "selection/pseudo_topk", "copies": "selection/pseudo_copies", "none": "selection/pseudo_none"}
SELECTED = {  # (labels, where soft labels come from)
    ("hard", "topk"): "selection/selected_hard", ("hard", "full"): "selection/selected_hard",
    ("soft", "topk"): "selection/selected_soft_topk", ("soft", "full"): "selection/selected_soft_full",
}


@dataclass(frozen=True)
class SelectOptions:
    round: int
    threshold: float = 0.3
    per_class: int | str = "auto"  # N, or auto: the median of the per-class candidate counts
    balance: str = "topk"
    labels: str = "hard"
    temperature: float = 1.0
    seed: int = 0
    keep_duplicates: bool = False
    include_labeled: bool = True
    dry_run: bool = False
    overwrite: bool = False


@dataclass
class ClassCount:
    class_id: int
    name: str
    predicted: int
    above_threshold: int
    after_dedup: int
    selected: int = 0
    copies: int = 0
    cutoff: float | None = None


@dataclass
class SelectResult:
    round: int
    selection_id: str
    checkpoint_id: str
    per_class: int | None
    per_class_auto: bool
    n_labeled: int
    n_pseudo: int
    n_pseudo_copies: int
    manifest_path: str | None
    manifest_hash: str | None
    dry_run: bool
    already_selected: bool
    classes: list[ClassCount] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["classes"] = [asdict(c) for c in self.classes]
        return d


def validate(o: SelectOptions) -> None:
    check_finite(o)
    if not 0 <= o.threshold <= 1:
        raise UsageError(f"--threshold must be in [0, 1] (got {o.threshold})")
    if o.balance not in BALANCES:
        raise UsageError(f"--balance must be one of {', '.join(BALANCES)}")
    if o.labels not in LABELS:
        raise UsageError(f"--labels must be one of {', '.join(LABELS)}")
    if not o.temperature > 0:
        raise UsageError("--temperature must be > 0")
    if o.per_class != "auto" and (not isinstance(o.per_class, int) or o.per_class < 0):
        raise UsageError(f"--per-class must be a count >= 0 or auto (got {o.per_class!r})")


def parse_per_class(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"--per-class must be a count >= 0 or auto (got {value!r})") from None


def auto_per_class(after_dedup: list[int]) -> int:
    """--per-class auto: the median over classes that have candidates (0 when none have)."""
    counts = [n for n in after_dedup if n > 0]
    return int(statistics.median(counts)) if counts else 0


def _by_class(histogram: list[tuple[int, int, int]]) -> dict[int, dict[int, int]]:
    by_class: dict[int, dict[int, int]] = {}
    for class_id, b, n in histogram:
        by_class.setdefault(class_id, {})[b] = n
    return by_class


def boundaries(histogram: list[tuple[int, int, int]], per_class: int) -> list[tuple[int, int, int, int]]:
    """topk's pre-filter: per class (boundary, rows above it, eligible rows). The boundary is the
    highest bin at which the count from the top reaches N (-1, the threshold's bin, for a class
    with fewer than N rows); rows below it cannot be among the N most confident."""
    out = []
    for class_id, bins in sorted(_by_class(histogram).items()):
        total, above, boundary = sum(bins.values()), 0, -1
        for b in sorted(bins, reverse=True):
            if above + bins[b] >= per_class:
                boundary = b
                break
            above += bins[b]
        else:
            above = 0  # fewer than N: all rows are ranked
        out.append((class_id, boundary, above, total))
    return out


def cutoffs(histogram: list[tuple[int, int, int]], per_class: int, threshold: float) -> list[tuple[int, float, int]]:
    """The copies mode's walk: per class (cutoff, images at or above it), from (class, bin, n).

    Bins are walked from the top (1.00) down; the walk stops at the first bin where the count
    reaches N, and never goes below the threshold (bin -1).
    """
    import numpy as np

    out = []
    for class_id, bins in sorted(_by_class(histogram).items()):
        total = 0
        cutoff = float(np.float32(threshold))
        for b in sorted(bins, reverse=True):
            total += bins[b]
            if total >= per_class and b >= 0:
                cutoff = float(np.float32(b / 100))
                break
        else:
            total = sum(bins.values())
        out.append((class_id, cutoff, total))
    return out


@dataclass
class _Plan:
    """What a selection will do, resolved from the options and round R's predictions."""

    o: SelectOptions
    started: float
    checkpoint_id: str
    classes: list[ClassCount]
    per_class: int | None
    auto: bool
    soft_source: str
    params: dict  # of the pseudo macro: round, threshold, per_class, seed
    selection_id: str = ""
    notes: list[str] = field(default_factory=list)

    def result(self, n_labeled, path: str | None, digest: str | None, already: bool) -> SelectResult:
        o, classes = self.o, self.classes
        return SelectResult(
            o.round, self.selection_id, self.checkpoint_id, self.per_class, self.auto and o.balance != "none",
            int(n_labeled or 0), sum(c.selected for c in classes), sum(c.copies for c in classes), path, digest,
            o.dry_run, already, classes, self.notes, time.perf_counter() - self.started,
        )


def select(ws: Workspace, options: SelectOptions, progress=NULL) -> SelectResult:
    """Select round R's pseudo labels and write round R's manifest (unless dry_run)."""
    started = time.perf_counter()
    o = options
    validate(o)
    _check_round(ws, o.round)
    con = ws.connect()
    try:
        plan = _plan(ws, con, o, started)
        if o.dry_run:
            return _dry_run(con, plan)
        existing = _existing(ws, con, o.round)
        if existing and existing["selection_id"] == plan.selection_id:
            manifest = storage.literal_path(ws.manifest_path(o.round))
            _fill(plan.classes, {r[0]: r[1:] for r in db.rows(con, query("selection/manifest_counts"), [manifest])})
            return plan.result(existing["n_labeled"], existing["manifest_path"], existing["manifest_hash"], True)
        if existing and not o.overwrite:
            raise UsageError(
                f"round {o.round} already has a selection ({existing['selection_id']}, manifest "
                f"{existing['manifest_hash'][:12]}) made with other parameters; pass --overwrite to replace it"
            )
        with ws.writing(f"plabel select --round {o.round}"):
            inv_t = {"inv_t": 1.0 / o.temperature} if o.labels == "soft" else {}
            db.execute(con, query(SELECTED[(o.labels, plan.soft_source)]), {**plan.params, **inv_t})
            return _write(ws, con, plan)
    finally:
        con.close()


def _check_round(ws: Workspace, round: int) -> None:
    if not ws.round_dir("predictions", round).exists():
        raise UnknownRound(f"round {round} has no predictions: run `plabel infer --round {round}` first")
    if round not in ws.rounds("predictions"):  # committed rounds always hold a part file
        raise UnknownRound(
            f"round {round}'s predictions folder holds no files (were they deleted?): "
            f"run `plabel infer --round {round} --overwrite`"
        )


def _plan(ws: Workspace, con, o: SelectOptions, started: float) -> _Plan:
    """Candidates, per-class counts, N and the balancing tables, up to the selection's id."""
    _check_predictions(con, o)
    checkpoint_id = db.scalar(con, query("selection/teacher"), {"round": o.round})
    probs_stored = db.scalar(con, query("selection/probs_stored"), [o.round])
    db.execute(con, query("selection/excluded"), {"round": o.round, "keep_duplicates": o.keep_duplicates})
    any_excluded = bool(db.scalar(con, query("selection/excluded_count")))
    for name in (CANDIDATES[any_excluded], "selection/binned", "selection/eligible"):
        db.execute(con, query(name))
    stats = db.rows(con, query("selection/stats"), {"round": o.round, "threshold": o.threshold})
    classes, hist = _stats(stats, dict(db.rows(con, query("workspace/classes"))))
    auto = o.per_class == "auto"
    n: int | None = None
    if o.balance != "none":
        n = auto_per_class([c.after_dedup for c in classes]) if auto else int(o.per_class)
    _balance_tables(con, o, hist, n)
    db.execute(con, query(PSEUDO[o.balance]))  # after its tables: a macro is bound when defined
    params = {"round": o.round, "threshold": o.threshold, "per_class": n, "seed": o.seed}
    plan = _Plan(o, started, checkpoint_id, classes, n, auto, "full" if probs_stored else "topk", params)
    plan.selection_id = _fingerprint(ws, o, n, checkpoint_id, plan.soft_source)[:16]
    if not ws.round_dir("duplicates", o.round).exists():
        plan.notes.append(
            f"round {o.round} was not deduplicated (`plabel dedup --round {o.round}`): "
            "only exact contamination with val/test was excluded"
        )
    return plan


def _balance_tables(con, o: SelectOptions, hist, n) -> None:
    """The per-class tables the balancing macros join: topk's boundary bins, copies' cutoffs."""
    if o.balance == "topk":
        _register(con, "boundaries", boundaries(hist, n), BOUNDARIES)
    if o.balance == "copies":
        _register(con, "cutoffs", cutoffs(hist, n, o.threshold), CUTOFFS)


BOUNDARIES = pa.schema(
    [("class_id", pa.int32()), ("boundary", pa.int32()), ("above", pa.int64()), ("total", pa.int64())]
)
CUTOFFS = pa.schema([("class_id", pa.int32()), ("cutoff", pa.float32()), ("count", pa.int64())])


def _register(con, name: str, rows: list[tuple], schema: pa.Schema) -> None:
    """Python rows as a table the SQL can read by name (for as long as the connection lives)."""
    columns: list = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    con.register(name, pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(columns, schema, strict=True)],
                                            schema=schema))


def _dry_run(con, plan: _Plan) -> SelectResult:
    """What the selection would be, counted without writing anything."""
    _fill(plan.classes, {r[0]: r[1:] for r in db.rows(con, query("selection/counts"), plan.params)})
    db.execute(con, query("manifest/labeled_rows"))
    n_labeled = db.scalar(con, query("selection/labeled_count"), {"include_labeled": plan.o.include_labeled})
    return plan.result(n_labeled, None, None, False)


def _check_predictions(con, o: SelectOptions) -> None:
    """Refuse predictions no teacher writes (a crafted or damaged table), naming an example."""
    params = {"round": o.round}
    bad = db.scalar(con, query("selection/bad_predictions"), params)
    if bad:
        example = db.scalar(con, query("selection/bad_prediction_example"), params)
        raise DataError(
            f"round {o.round} has {bad} predictions with a NaN, infinite or out-of-range confidence (e.g. image "
            f"{example}); no teacher writes those: re-run `plabel infer --round {o.round} --overwrite`"
        )
    if o.labels == "soft" and db.scalar(con, query("selection/bad_soft_labels"), params):
        raise DataError(
            f"round {o.round} has stored probabilities that are NaN, infinite or negative; soft labels cannot be "
            f"made of them: re-run `plabel infer --round {o.round} --overwrite`"
        )


def _stats(rows: list[tuple], names: dict[int, str]) -> tuple[list[ClassCount], list[tuple[int, int, int]]]:
    """The funnel per class, and the histogram (class, bin, n) of the eligible rows."""
    classes = {c: ClassCount(c, name, 0, 0, 0) for c, name in sorted(names.items())}
    hist = []
    for class_id, above, excluded, b, n in rows:
        c = classes[class_id]
        c.predicted += n
        if above:
            c.above_threshold += n
            if not excluded:
                c.after_dedup += n
                hist.append((class_id, b, n))
    return list(classes.values()), hist


def _fingerprint(ws: Workspace, o: SelectOptions, n, checkpoint_id: str, soft_source: str) -> str:
    """Identity of a selection: its parameters and what it read (by content, not file names)."""
    dup_files = sorted(ws.round_dir("duplicates", o.round).glob("*.parquet"))
    inputs = {
        "options": {k: v for k, v in asdict(o).items() if k not in ("dry_run", "overwrite")},
        "per_class": n,
        "checkpoint_id": checkpoint_id,
        "soft_source": soft_source,
        # row counts from the Parquet footers: no scan of 10^8 rows to name a selection
        "predictions": storage.row_count(ws.round_dir("predictions", o.round).glob("*.parquet")),
        "images": storage.row_count(ws.table_dir("images").glob("*.parquet")),
        "duplicates": [storage.file_hash(p) for p in dup_files],
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _fill(classes: list[ClassCount], counted: dict) -> None:
    for c in classes:
        if c.class_id in counted:
            c.selected, c.copies, cutoff = counted[c.class_id]
            c.cutoff = float(cutoff) if cutoff is not None else None


def _existing(ws: Workspace, con, round: int) -> dict | None:
    if not ws.round_dir("selections", round).exists():
        return None
    rows = db.rows(con, query("selection/existing"), [round])
    keys = ("selection_id", "manifest_path", "manifest_hash", "n_labeled")
    return dict(zip(keys, rows[0], strict=True)) if rows else None


def _write(ws: Workspace, con, plan: _Plan) -> SelectResult:
    """Stage the manifest, the per-class funnel and the selections row; commit them, selections last."""
    o = plan.o
    names = ("manifests", "selection_classes", "selections")
    for name in names:  # what a killed selection left half built
        staging = ws.staging_dir(name, o.round)
        if staging.exists():
            storage.retire_dir(staging, ws.trash_dir)
    manifest = ws.manifest_path(o.round, staged=True)
    db.execute(con, query("manifest/labeled_rows"))
    storage.write_query(con, query("selection/manifest"), {"include_labeled": o.include_labeled}, manifest,
                        table("manifests"))
    counted = {r[0]: r[1:] for r in db.rows(con, query("selection/manifest_counts"), [storage.literal_path(manifest)])}
    _fill(plan.classes, counted)
    n_labeled = db.scalar(con, query("selection/manifest_labeled"), [storage.literal_path(manifest)])
    class_rows = [{"selection_id": plan.selection_id, **asdict(c)} for c in plan.classes]
    dest = ws.staging_dir("selection_classes", o.round) / "classes.parquet"
    storage.write_rows(class_rows, dest, table("selection_classes"))
    path = ws.store_path(ws.manifest_path(o.round))
    result = plan.result(n_labeled, path, storage.file_hash(manifest), False)
    dest = ws.staging_dir("selections", o.round) / "selection.parquet"
    storage.write_rows([_selection_row(plan, result)], dest, table("selections"))
    # selections last: a round with a selections row has its manifest and funnel too
    for name in names:
        ws.commit_round(name, o.round, ws.staging_dir(name, o.round))
    return result


def _selection_row(plan: _Plan, r: SelectResult) -> dict:
    o = plan.o
    params_json = {k: v for k, v in asdict(o).items() if k not in ("dry_run", "overwrite")}
    return {
        "selection_id": plan.selection_id, "checkpoint_id": plan.checkpoint_id, "threshold": o.threshold,
        "per_class": plan.per_class, "per_class_auto": plan.auto, "balance": o.balance, "labels": o.labels,
        "temperature": o.temperature, "seed": o.seed, "keep_duplicates": o.keep_duplicates,
        "include_labeled": o.include_labeled, "n_labeled": r.n_labeled, "n_pseudo": r.n_pseudo,
        "n_pseudo_copies": r.n_pseudo_copies, "manifest_path": r.manifest_path, "manifest_hash": r.manifest_hash,
        "params": json.dumps(dict(params_json, per_class_resolved=plan.per_class), sort_keys=True),
        "selected_at": datetime.now(timezone.utc),
    }


