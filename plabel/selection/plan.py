"""What a selection will do: its checks, candidates, per-class counts, N, balancing tables and id."""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from plabel import db, storage
from plabel.errors import DataError, UnknownRound
from plabel.queries import query
from plabel.selection import guarantee
from plabel.selection.auto import ClassThreshold, class_thresholds, threshold_notes, val_evidence
from plabel.selection.balance import auto_per_class, boundaries, cutoffs
from plabel.selection.options import ClassCount, SelectOptions, SelectResult
from plabel.workspace import Workspace

# Registries of the query files a selection runs (schemas/queries/selection/). Each defines, or
# reads, temporary table macros: scored -> candidates -> binned -> eligible -> pseudo -> selected.
CANDIDATES = {True: "selection/candidates", False: "selection/candidates_none_excluded"}
PSEUDO = {"topk": "selection/pseudo_topk", "copies": "selection/pseudo_copies", "none": "selection/pseudo_none"}
SELECTED = {"hard": "selection/selected_hard", "soft": "selection/selected_soft"}  # by --labels

Histogram = list[tuple[int, int, int]]  # (class, confidence bin, images) of the eligible rows
# the funnel per class, the histogram, the pool per class and N (per-class count, None: no balancing)
Counted = tuple[list[ClassCount], Histogram, list[int], int | None]


@dataclass
class Plan:
    """What a selection will do, resolved from the options and round R's predictions."""

    o: SelectOptions
    started: float
    checkpoint_id: str
    classes: list[ClassCount]
    per_class: int | None
    auto: bool
    soft_source: str
    params: dict[str, Any]  # of the pseudo macro: round, threshold, per_class, seed
    selection_id: str = ""
    notes: list[str] = field(default_factory=list)
    val: guarantee.ValEvidence = field(default_factory=dict)  # val predictions per class: (confidences, right)
    shift: dict[int, float] = field(default_factory=dict)  # per class, the shift check's p-value

    def result(self, n_labeled: int | None, path: str | None, digest: str | None, already: bool) -> SelectResult:
        o, classes = self.o, self.classes
        r = SelectResult(round=o.round, selection_id=self.selection_id, checkpoint_id=self.checkpoint_id,
                         per_class=self.per_class, per_class_auto=self.auto and o.balance != "none",
                         n_labeled=int(n_labeled or 0), n_pseudo=sum(c.selected for c in classes),
                         n_pseudo_copies=sum(c.copies for c in classes), manifest_path=path, manifest_hash=digest,
                         dry_run=o.dry_run, already_selected=already, classes=classes, notes=list(self.notes),
                         seconds=time.perf_counter() - self.started)
        if self.val:
            guarantee.state(r, o, self.val, self.shift)
        return r


def check_round(ws: Workspace, round: int) -> None:
    if not ws.round_dir("predictions", round).exists():
        raise UnknownRound(f"round {round} has no predictions: run `plabel infer --round {round}` first")
    if not ws.has_round("predictions", round):
        raise UnknownRound(
            f"round {round}'s predictions folder holds no files (were they deleted?): "
            f"run `plabel infer --round {round} --overwrite`"
        )


def make_plan(ws: Workspace, con: duckdb.DuckDBPyConnection, o: SelectOptions, started: float) -> Plan:
    """Candidates, per-class counts, N and the balancing tables, up to the selection's id."""
    _check_predictions(con, o)
    checkpoint_id = db.scalar(con, query("selection/teacher"), {"round": o.round})
    probs_stored = db.scalar(con, query("selection/probs_stored"), {"round": o.round})
    db.execute(con, query("selection/excluded"), {"round": o.round, "keep_duplicates": o.keep_duplicates})
    any_excluded = bool(db.scalar(con, query("selection/excluded_count")))
    names = dict(db.rows(con, query("workspace/classes")))
    val = val_evidence(con, o, required=o.threshold == "auto")
    limits = class_thresholds(o, sorted(names), val)
    counted = _counted(con, o, any_excluded, names, limits)
    shift = guarantee.shifted_classes(val, counted[1], _limits(limits), o.delta) if val else {}
    if o.threshold == "auto" and o.below_target == "whole" and _drop_for_whole(o, limits, val, counted, shift):
        counted = _counted(con, o, any_excluded, names, limits)
    classes, hist, pool, n = counted
    _balance_tables(con, o, hist, n, _limits(limits))
    db.execute(con, query(PSEUDO[o.balance]))  # after its tables: a macro is bound when defined
    params = {"round": o.round, "per_class": n, "seed": o.seed}
    plan = Plan(o, started, checkpoint_id, classes, n, o.per_class == "auto", "full" if probs_stored else "topk",
                params, val=val, shift=shift)
    plan.selection_id = _fingerprint(ws, o, n, checkpoint_id, plan.soft_source, classes)[:16]
    plan.notes += threshold_notes(o, classes)
    if not ws.round_dir("duplicates", o.round).exists():
        plan.notes.append(
            f"round {o.round} was not deduplicated (`plabel dedup --round {o.round}`): "
            "only exact contamination with val/test was excluded"
        )
    return plan


def _drop_for_whole(o: SelectOptions, limits: dict[int, ClassThreshold], val: guarantee.ValEvidence, counted: Counted,
                    shift: dict[int, float]) -> list[int]:
    """--below-target whole: mark the classes without a guarantee of their own (global, best, or
    shifted) that the whole selection's bound cannot carry as dropped, in `limits`; return them."""
    unproven = {c for c, t in limits.items() if t.source in guarantee.UNPROVEN}
    unproven |= {c for c, p in shift.items() if p < o.delta}
    dropped = guarantee.keep_whole(val, _shares(o, counted, limits), o.target_precision, o.delta, unproven)
    for c in dropped:
        t = limits[c]
        limits[c] = ClassThreshold(c, math.inf, t.val_support, t.val_precision, t.lower_bound, "dropped")
    return dropped


def _limits(limits: dict[int, ClassThreshold]) -> dict[int, float]:
    return {c: t.threshold for c, t in limits.items()}


def _counted(con: duckdb.DuckDBPyConnection, o: SelectOptions, any_excluded: bool, names: dict[int, str],
             limits: dict[int, ClassThreshold]) -> Counted:
    """The funnel, the eligible histogram, the pool per class and N, at the given thresholds."""
    _register(con, "class_thresholds", list(_limits(limits).items()), THRESHOLDS)
    # after class_thresholds: a macro binds what it names when it is created
    db.define(con, [query(n) for n in ("selection/scored", CANDIDATES[any_excluded], "selection/binned",
                                       "selection/eligible")])
    stats = db.rows(con, query("selection/stats"), {"round": o.round})
    classes, hist, pool = _stats(stats, names, limits)
    n: int | None = None
    if o.balance != "none":
        n = auto_per_class(pool) if o.per_class == "auto" else int(o.per_class)
    return classes, hist, pool, n


def _shares(o: SelectOptions, counted: Counted, limits: dict[int, ClassThreshold]) -> dict[int, guarantee.Share]:
    """Each class's expected part of the manifest, from the histogram and the balancing walk."""
    _, hist, _, n = counted
    thresholds = _limits(limits)
    bounds = {c: b for c, b, _, _ in boundaries(hist, n)} if o.balance == "topk" and n is not None else {}
    cuts = {c: x for c, x, _ in cutoffs(hist, n, thresholds)} if o.balance == "copies" and n is not None else {}
    return guarantee.shares(hist, n, o.balance, thresholds, bounds, cuts)


def _balance_tables(con: duckdb.DuckDBPyConnection, o: SelectOptions, hist: Histogram, n: int | None,
                    limits: dict[int, float]) -> None:
    """The per-class tables the balancing macros join: topk's boundary bins, copies' cutoffs."""
    if n is None:  # no balancing
        return
    if o.balance == "topk":
        _register(con, "boundaries", boundaries(hist, n), BOUNDARIES)
    if o.balance == "copies":
        _register(con, "cutoffs", cutoffs(hist, n, limits), CUTOFFS)


BOUNDARIES = pa.schema(
    [("class_id", pa.int32()), ("boundary", pa.int32()), ("above", pa.int64()), ("total", pa.int64())]
)
CUTOFFS = pa.schema([("class_id", pa.int32()), ("cutoff", pa.float32()), ("count", pa.int64())])
THRESHOLDS = pa.schema([("class_id", pa.int32()), ("threshold", pa.float64())])


def _register(con: duckdb.DuckDBPyConnection, name: str, rows: list[tuple[Any, ...]], schema: pa.Schema) -> None:
    """Python rows as a table the SQL can read by name (for as long as the connection lives)."""
    columns: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    con.register(name, pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(columns, schema, strict=True)],
                                            schema=schema))


def _check_predictions(con: duckdb.DuckDBPyConnection, o: SelectOptions) -> None:
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


def _stats(rows: list[tuple[Any, ...]], names: dict[int, str],
           limits: dict[int, ClassThreshold]) -> tuple[list[ClassCount], Histogram, list[int]]:
    """The funnel per class, the histogram (class, bin, n) of the eligible rows, and per class the
    pool images predicted as it that no duplicate or contamination rule removes, at any confidence
    (what --per-class auto's median is taken over)."""
    classes = {c: ClassCount(c, name, 0, 0, 0, threshold=limits[c].threshold, threshold_source=limits[c].source,
                             val_support=limits[c].val_support, val_precision=limits[c].val_precision,
                             val_lower_bound=limits[c].lower_bound)
               for c, name in sorted(names.items())}
    hist: Histogram = []
    pool = dict.fromkeys(classes, 0)
    for class_id, above, excluded, b, n in rows:
        c = classes[class_id]
        c.predicted += n
        pool[class_id] += 0 if excluded else n
        if above:
            c.above_threshold += n
            if not excluded:
                c.after_dedup += n
                hist.append((class_id, b, n))
    return list(classes.values()), hist, list(pool.values())


def _fingerprint(ws: Workspace, o: SelectOptions, n: int | None, checkpoint_id: str, soft_source: str,
                 classes: list[ClassCount]) -> str:
    """Identity of a selection: its parameters and what it read (by content, not file names)."""
    dup_files = sorted(ws.round_dir("duplicates", o.round).glob("*.parquet"))
    auto = o.threshold == "auto"
    # a fixed threshold's selection keeps the id it had before --threshold auto existed
    ignored: tuple[str, ...] = ("dry_run", "overwrite")
    if not auto:
        ignored += ("target_precision", "below_target", "delta")
    inputs: dict[str, Any] = {
        "options": {k: v for k, v in asdict(o).items() if k not in ignored},
        "per_class": n,
        "checkpoint_id": checkpoint_id,
        "soft_source": soft_source,
        # row counts from the Parquet footers: no scan of 10^8 rows to name a selection
        "predictions": storage.row_count(ws.round_dir("predictions", o.round).glob("*.parquet")),
        "images": storage.row_count(ws.table_dir("images").glob("*.parquet")),
        "duplicates": [storage.file_hash(p) for p in dup_files],
    }
    if auto:  # the thresholds depend on the val predictions too
        inputs["thresholds"] = [c.threshold for c in classes]
    reviews = sorted(p.name for p in ws.table_dir("reviews").glob("*.parquet"))  # named by content
    if reviews:  # reviewed images become labeled rows and leave the pool (without any: the id it had)
        inputs["reviews"] = reviews
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
