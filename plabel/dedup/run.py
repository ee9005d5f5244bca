"""`plabel dedup`: find, calibrate, decide, and write (or, dry, only count)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from plabel import db, distributed, storage
from plabel.dedup import embeddings, pixels
from plabel.dedup.calibrate import COPY_QUANTILE, SHARE_QUANTILE, Calibration, Rule, calibrate, nearest_distinct
from plabel.dedup.evidence import Evidence, Pool
from plabel.dedup.options import SCOPES, DedupOptions, DedupResult, validate
from plabel.dedup.rows import group_rows, held_out_rows, labeled_rows, removed_by
from plabel.errors import UnknownRound
from plabel.progress import NULL, Progress
from plabel.queries import query
from plabel.schema import table
from plabel.values import as_dict
from plabel.workspace import HELD_OUT, Workspace

OTHER_SPLITS = (*HELD_OUT, "train")  # train duplicates are reported, never excluded


@dataclass
class Findings:
    """Everything dedup learnt before deciding: the pool, each signal's evidence, exact rows."""

    pool: Pool
    exact: list[dict[str, Any]]
    evidence: list[Evidence] = field(default_factory=list)
    made_fingerprints: list[dict[str, Any]] = field(default_factory=list)
    unreadable: int = 0  # images without a fingerprint whose file could not be read
    embeddings_round: int | None = None
    model_free: bool = False  # the round has no predictions: the pool is every unlabeled image, pixels only


def dedup(ws: Workspace, options: DedupOptions, progress: Progress = NULL) -> DedupResult:
    """Find the duplicates of `options.round`'s pool and write them to the `duplicates` table (replacing any)."""
    started = time.perf_counter()
    o, round = options, options.round
    validate(o)
    distributed.init()  # under torchrun: each rank searches and verifies its share of the queries
    found = find(ws, round, o, progress)
    calibrations = thresholds(found, o)
    rows = decide(found, calibrations)  # every rank decides the same rows; rank 0 writes them
    result = summarise(round, found, calibrations, rows, o)
    if not o.dry_run:
        with distributed.writing(ws, f"plabel dedup --round {round}"):
            if distributed.is_main():
                _write(ws, round, rows, calibrations, found)
    result.seconds = time.perf_counter() - started
    return result


def round_before_any_model(ws: Workspace) -> int | None:
    """0 when no round has predictions and there are unlabeled or train images to search (dedup
    before any model, pixels only); None otherwise (the newest round with predictions applies)."""
    if ws.rounds("predictions") or not ws.scalar(query("dedup/has_images")):
        return None
    return 0


def find(ws: Workspace, round: int, o: DedupOptions, progress: Progress = NULL) -> Findings:
    """The pool and the evidence of every signal asked for and available."""
    model_free = not ws.has_round("predictions", round)
    if model_free and (round != 0 or o.uses_embeddings or not o.pixels):
        before = " (only the pixel signal runs before any model: leave out the embedding options)" if round == 0 else ""
        raise UnknownRound(f"round {round} has no predictions: run `plabel infer --round {round}` first{before}")
    task = progress.task(f"dedup round {round}", None, "steps")
    with ws.connect() as con:
        found = Findings(_pool(ws, con, round, model_free),
                         db.relation(con, query("dedup/exact")).to_arrow_table().to_pylist(), model_free=model_free)
        found.exact += db.relation(con, query("dedup/exact_labeled")).to_arrow_table().to_pylist()
        others = {s: [r[0] for r in db.rows(con, query("dedup/split_ids"), {"split": s})] for s in OTHER_SPLITS}
        others = {s: ids for s, ids in others.items() if ids}
        found.embeddings_round = embeddings.embeddings_round(con, o.embeddings_round) if o.uses_embeddings else None
        pool = found.pool
        if o.pixels and (len(pool.ids) > 1 or "train" in others):
            ev, store = pixels.evidence(ws, con, pool, others, o)
            found.evidence.append(ev)
            found.made_fingerprints, found.unreadable = store.made, store.unreadable
            task.advance(1)
        if found.embeddings_round is not None and len(pool.ids) > 1:
            ev_e = embeddings.evidence(ws, con, pool, list(others), found.embeddings_round, o)
            if ev_e is not None:
                found.evidence.append(ev_e)
            task.advance(1)
    task.close()
    return found


def _pool(ws: Workspace, con: duckdb.DuckDBPyConnection, round: int, model_free: bool) -> Pool:
    """Round R's predicted unlabeled images, or before any model every unlabeled image."""
    rows = (db.rows(con, query("dedup/pool_images")) if model_free
            else db.rows(con, query("dedup/pool"), {"round": round}))
    return Pool([r[0] for r in rows], np.array([r[1] for r in rows], np.float64),
                np.array([r[2] for r in rows], np.int64), [ws.source(*r[3:7]) for r in rows])


def thresholds(found: Findings, o: DedupOptions) -> list[Calibration]:
    """One calibrated (or given) threshold per signal and scope.

    Pixels come first: the pool images they link are real duplicates with high precision, so
    they are taken out of the embeddings' negatives, which then need no mixture correction (a
    weak model crowds distinct images above its positives' median, where that correction would
    mistake them for duplicates).
    """
    out: list[Calibration] = []
    linked = np.zeros(len(found.pool.ids), bool)
    for ev in found.evidence:
        for scope in SCOPES:
            negatives, rule = _negatives(ev, scope, linked, o)
            c = calibrate(ev.signal, scope, ev.positives, negatives, rule)
            out.append(replace(c, colour_tolerance=ev.colour_tolerance,
                               brightness_tolerance=ev.brightness_tolerance))
        if ev.signal == "pixels":
            for row in decide(Findings(found.pool, [], [ev]), out):
                if not row["scope"].startswith("train-"):  # labeled train images are not in the pool
                    linked[found.pool.position[row["image_id"]]] = True
    return out


def _negatives(ev: Evidence, scope: str, linked: np.ndarray, o: DedupOptions) -> tuple[np.ndarray, Rule]:
    """What a scope's threshold is calibrated against, and the rule it must keep.

    Pixels: every pool image's nearest distinct image (plabel.dedup.calibrate.nearest_distinct),
    the vetoed and the unmatched included (they are never flagged), so the false-positive rate is
    a share of the pool, held as it is. The real duplicates below the copies' tenth quantile are
    still among them: their expected share (estimated above the quartile) is taken off.
    Embeddings: the nearest neighbours of the images pixels did not link, taken at face value;
    within the pool the ceiling allows for the estimate's noise.
    """
    given = o.given(ev.signal, scope)
    if ev.signal == "pixels":
        near, second = (ev.nearest, ev.second if ev.second is not None else np.full(len(ev.nearest), -1.0)) \
            if scope == "unlabeled" else ev.held_out_two(HELD_OUT)
        level = float(np.quantile(ev.positives, SHARE_QUANTILE)) if len(ev.positives) else np.inf
        share = float(np.mean(near >= level)) / (1 - SHARE_QUANTILE) if len(near) else 0.0
        rule = Rule(o.recall, o.max_fpr(scope), given, True, share=min(1.0, share), floor=1 - COPY_QUANTILE,
                    min_precision=o.min_precision)
        return nearest_distinct(near, second, ev.positives), rule
    negatives = ev.nearest if scope == "unlabeled" else ev.held_out_nearest(HELD_OUT)
    negatives = negatives[(negatives > -1) & ~linked] if len(negatives) else negatives
    return negatives, Rule(o.recall, o.max_fpr(scope), given, True, scope == "unlabeled")


def decide(found: Findings, calibrations: list[Calibration]) -> list[dict[str, Any]]:
    limits = {(c.signal, c.scope): c.threshold for c in calibrations}
    return (found.exact + held_out_rows(found.pool, found.evidence, limits)
            + group_rows(found.pool, found.evidence, limits) + labeled_rows(found.evidence, limits))


def summarise(round: int, found: Findings, calibrations: list[Calibration], rows: list[dict[str, Any]],
              o: DedupOptions) -> DedupResult:
    r = DedupResult(round=round, pool=len(found.pool.ids), embeddings_round=found.embeddings_round, dry_run=o.dry_run)
    r.thresholds = [as_dict(c) for c in calibrations]
    r.exact = len({x["image_id"] for x in found.exact})
    near = [x for x in rows if x["kind"] != "exact" and x["scope"] == "unlabeled"]
    r.near_members, r.near_groups = len(near), len({x["group_id"] for x in near})
    r.contaminated = len({x["image_id"] for x in rows if x["scope"] in HELD_OUT})
    r.train_duplicates = len({x["image_id"] for x in rows if x["scope"] == "train"})
    r.labeled_contaminated = len({x["image_id"] for x in rows if x["scope"].startswith("train-")})
    r.model_free = found.model_free
    r.excluded = len({x["image_id"] for x in rows if x["excluded"]})
    r.removed_by = {name: len(ids) for name, ids in removed_by(rows).items()}
    r.searched = {"unlabeled": len(found.pool.ids)}
    if found.model_free:
        r.notes.append(f"round {round} has no predictions: pixels only, every unlabeled image searched, and each "
                       f"group keeps its smallest image id (after `plabel infer --round {round}`, dedup again to keep "
                       f"the most confident member)")
    if r.labeled_contaminated:
        r.notes.append(f"{r.labeled_contaminated} labeled train images are copies of val/test images (scope "
                       f"train-val, train-test): the teacher is judged on what it trained on; remove them from one "
                       f"side")
    if found.unreadable:
        r.notes.append(f"pixels: {found.unreadable} images could not be read to make their fingerprint")
    if o.uses_embeddings and found.embeddings_round is None:
        r.notes.append("no round has unlabeled embeddings: only pixels were compared (infer --embeddings)")
    for e in found.evidence:
        searched = [h.split for h in e.held_out]
        for split in HELD_OUT:
            if split not in searched:
                r.notes.append(f"{e.signal}: no {split} images to compare with")
    r.notes += [f"{c.signal} {c.scope}: {c.note}" for c in calibrations if c.note]
    return r


def _write(ws: Workspace, round: int, rows: list[dict[str, Any]], calibrations: list[Calibration],
           found: Findings) -> None:
    if found.made_fingerprints:
        storage.write_rows(found.made_fingerprints, ws.table_dir("fingerprints") / storage.part_name(),
                           table("fingerprints"))
    limits = [{**{k: v for k, v in as_dict(c).items() if k in table("dedup_thresholds").names},
               "checkpoint_id": next((e.checkpoint_id for e in found.evidence if e.signal == c.signal), None)}
              for c in calibrations]
    # thresholds before duplicates: a committed duplicates round is what marks dedup done
    _commit(ws, "dedup_thresholds", round, limits, [("signal", "ascending"), ("scope", "ascending")])
    _commit(ws, "duplicates", round, rows,
            [("image_id", "ascending"), ("scope", "ascending"), ("duplicate_of", "ascending")])


def _commit(ws: Workspace, name: str, round: int, rows: list[dict[str, Any]], order: list[Any]) -> None:
    schema = table(name)
    data = pa.Table.from_pylist(rows, schema=schema.arrow_schema()).sort_by(order)
    staging = ws.fresh_staging(name, round)
    storage.write_arrow(data, staging / f"{name}.parquet", schema)
    ws.commit_round(name, round, staging)
