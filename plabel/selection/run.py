"""`select`: plan, dry run or write the manifest, the funnel and the selections row."""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

import duckdb

from plabel import db, storage
from plabel.errors import UsageError
from plabel.manifest import write_manifest
from plabel.progress import NULL, Progress
from plabel.queries import query
from plabel.schema import table
from plabel.selection.options import ClassCount, SelectOptions, SelectResult, validate
from plabel.selection.plan import SELECTED, Plan, check_round, make_plan
from plabel.workspace import Workspace


def select(ws: Workspace, options: SelectOptions, progress: Progress = NULL) -> SelectResult:
    """Select round R's pseudo labels and write round R's manifest (unless dry_run)."""
    started = time.perf_counter()
    o = options
    validate(o)
    check_round(ws, o.round)
    with ws.connect() as con:
        plan = make_plan(ws, con, o, started)
        if o.dry_run:
            return _dry_run(con, plan)
        existing = _existing(ws, con, o.round)
        if existing and existing["selection_id"] == plan.selection_id:
            manifest = storage.literal_path(ws.manifest_path(o.round))
            counts = db.rows(con, query("selection/manifest_counts"), {"path": manifest})
            _fill(plan.classes, {r[0]: r[1:] for r in counts})
            return plan.result(existing["n_labeled"], existing["manifest_path"], existing["manifest_hash"], True)
        if existing and not o.overwrite:
            raise UsageError(
                f"round {o.round} already has a selection ({existing['selection_id']}, manifest "
                f"{existing['manifest_hash'][:12]}) made with other parameters; pass `overwrite` to replace it"
            )
        with ws.writing(f"plabel select --round {o.round}"):
            soft = {"inv_t": 1.0 / o.temperature, "full": plan.soft_source == "full"} if o.labels == "soft" else {}
            db.execute(con, query(SELECTED[o.labels]), {**plan.params, **soft})
            return _write(ws, con, plan)


def _dry_run(con: duckdb.DuckDBPyConnection, plan: Plan) -> SelectResult:
    """What the selection would be, counted without writing anything."""
    _fill(plan.classes, {r[0]: r[1:] for r in db.rows(con, query("selection/counts"), plan.params)})
    db.define(con, [query("images/first_rows"), query("manifest/labeled_rows")])
    n_labeled = db.scalar(con, query("selection/labeled_count"), {"include_labeled": plan.o.include_labeled})
    return plan.result(n_labeled, None, None, False)


def _fill(classes: list[ClassCount], counted: dict[int, tuple[int, int, Any]]) -> None:
    for c in classes:
        if c.class_id in counted:
            c.selected, c.copies, cutoff = counted[c.class_id]
            c.cutoff = float(cutoff) if cutoff is not None else None


def _existing(ws: Workspace, con: duckdb.DuckDBPyConnection, round: int) -> dict[str, Any] | None:
    if not ws.round_dir("selections", round).exists():
        return None
    rows = db.rows(con, query("selection/existing"), {"round": round})
    keys = ("selection_id", "manifest_path", "manifest_hash", "n_labeled")
    return dict(zip(keys, rows[0], strict=True)) if rows else None


def _write(ws: Workspace, con: duckdb.DuckDBPyConnection, plan: Plan) -> SelectResult:
    """Stage the manifest, the per-class funnel and the selections row; commit them, selections last."""
    o = plan.o
    names = ("manifests", "selection_classes", "selections")
    staging = {name: ws.fresh_staging(name, o.round) for name in names}
    manifest = ws.manifest_path(o.round, staged=True)
    db.define(con, [query("images/first_rows"), query("manifest/labeled_rows")])
    write_manifest(con, query("selection/manifest"), {"include_labeled": o.include_labeled}, manifest)
    counted = {r[0]: r[1:] for r in db.rows(con, query("selection/manifest_counts"),
                                                        {"path": storage.literal_path(manifest)})}
    _fill(plan.classes, counted)
    n_labeled = db.scalar(con, query("selection/manifest_labeled"), {"path": storage.literal_path(manifest)})
    class_rows = [{"selection_id": plan.selection_id, **asdict(c)} for c in plan.classes]
    dest = staging["selection_classes"] / "classes.parquet"
    storage.write_rows(class_rows, dest, table("selection_classes"))
    path = ws.store_path(ws.manifest_path(o.round))
    result = plan.result(n_labeled, path, storage.file_hash(manifest), False)
    dest = staging["selections"] / "selection.parquet"
    storage.write_rows([_selection_row(plan, result)], dest, table("selections"))
    # selections last: a round with a selections row has its manifest and funnel too
    for name in names:
        ws.commit_round(name, o.round, staging[name])
    return result


def _selection_row(plan: Plan, r: SelectResult) -> dict[str, Any]:
    o = plan.o
    params_json = {k: v for k, v in asdict(o).items() if k not in ("dry_run", "overwrite")}
    return {
        "selection_id": plan.selection_id, "checkpoint_id": plan.checkpoint_id,
        "threshold": None if o.threshold == "auto" else o.threshold,
        "target_precision": o.target_precision if o.threshold == "auto" else None,
        "per_class": plan.per_class, "per_class_auto": plan.auto, "balance": o.balance, "labels": o.labels,
        "temperature": o.temperature, "seed": o.seed, "keep_duplicates": o.keep_duplicates,
        "include_labeled": o.include_labeled, "n_labeled": r.n_labeled, "n_pseudo": r.n_pseudo,
        "n_pseudo_copies": r.n_pseudo_copies, "manifest_path": r.manifest_path, "manifest_hash": r.manifest_hash,
        "delta": r.delta, "expected_precision": r.expected_precision,
        "precision_lower_bound": r.precision_lower_bound, "guarantee": r.guarantee, "class_share_p": r.class_share_p,
        "params": json.dumps(dict(params_json, per_class_resolved=plan.per_class), sort_keys=True),
        "selected_at": datetime.now(timezone.utc),
    }
