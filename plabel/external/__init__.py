"""`plabel import-predictions`: predictions made elsewhere (timm's `inference.py`, any model) as a round.

The file's rows are matched to images by content id, by path (relative to `root`, or absolute)
or by a bare file name that names one image; each becomes a predictions row of round R, made by
an external "checkpoint": a checkpoints row of kind `external` (the model's name, the file's
SHA-256, when) that has no weights. Lineage, drift, select and the report read the round like any
other; `infer` and `eval` never pick an external checkpoint.

Everything is checked before anything is written: unknown or ambiguous paths, two rows for one
image, a wrong class count, NaN or infinite outputs, probabilities outside [0, 1].
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, get_args

import pyarrow as pa

from plabel import db, storage
from plabel.errors import UsageError, check_fields
from plabel.external.distribution import TOPK, prediction_rows
from plabel.external.read import Records, read_table, records
from plabel.fields import cli
from plabel.queries import query
from plabel.schema import table
from plabel.values import MAX_ROUND
from plabel.workspace import Workspace

OutputType = Literal["auto", "prob", "logit"]
OUTPUT_TYPES = get_args(OutputType)


@dataclass(frozen=True, kw_only=True)
class ImportOptions:
    file: str | os.PathLike[str]  # the predictions (the command's argument)
    round: int
    model_name: str = field(metadata=cli(
        "The model that made the predictions (recorded as the round's teacher).", default=""))
    # what relative paths are relative to (timm's --data-dir); default: the current folder
    root: str | None = field(default=None, metadata=cli(
        "Folder that relative paths are relative to (timm's --data-dir); default: the current folder.",
        type=Path | None, parse=lambda p: str(p) if p else None))
    # prob or logit; auto: by the column's name (prob, probs / logit, logits)
    output_type: OutputType = field(default="auto", metadata=cli(
        f"One of {', '.join(OUTPUT_TYPES)} (auto: by the column's name)."))
    key_column: str | None = field(default=None, metadata=cli(  # default: the first of filename, path, image_id
        "Column naming the image (default: filename, path or image_id)."))
    skip_unknown: bool = field(default=False, metadata=cli(  # instead of failing
        "Leave out rows naming no image of the workspace.", "--skip-unknown"))
    overwrite: bool = field(default=False, metadata=cli("Replace the round's predictions.", "--overwrite"))


@dataclass(kw_only=True)
class ImportResult:
    round: int
    checkpoint_id: str
    rows: int
    skipped_unknown: int
    splits: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    already_imported: bool = False  # the round holds this file's predictions already: nothing written
    removed: list[str] = field(default_factory=list)  # tables of round R made from the replaced predictions



def import_predictions(ws: Workspace, o: ImportOptions) -> ImportResult:
    """Make round R's predictions from a file of predictions made elsewhere."""
    file = _check(ws, Path(os.path.abspath(o.file)), o)
    classes = ws.class_names()
    recs = records(read_table(file), file, o.key_column, o.output_type)
    matched, unknown = _match(ws, recs, Path(os.path.abspath(o.root or os.getcwd())), o.skip_unknown, file)
    digest = storage.file_hash(file)
    ckpt_id = hashlib.sha256(json.dumps([digest, o.model_name, recs.output_type]).encode()).hexdigest()[:16]
    rows, notes = prediction_rows(recs, matched, classes, ckpt_id, file)
    splits: dict[str, int] = {}
    for r in rows:
        splits[r["split"]] = splits.get(r["split"], 0) + 1
    result = ImportResult(round=o.round, checkpoint_id=ckpt_id, rows=len(rows), skipped_unknown=unknown, splits=splits,
                          notes=notes)
    with ws.writing(f"plabel import-predictions --round {o.round}"):
        if ws.has_round("predictions", o.round) and not o.overwrite:
            if [r[0] for r in ws.rows(query("external/round_teachers"), {"round": o.round})] == [ckpt_id]:
                result.already_imported = True  # the same file, model and output type: done before
                result.removed = _drop_replaced_teachers(ws, o.round)  # what a kill after the commit left
                return result
            raise UsageError(f"round {o.round} already has predictions (pass `overwrite` to replace them)")
        _register(ws, ckpt_id, o, file, digest, recs, len(classes))
        result.removed = ws.retire_derived(o.round)  # nothing made from the old predictions outlives them
        _commit(ws, o.round, rows)
        result.removed += _drop_replaced_teachers(ws, o.round)
    return result


def _check(ws: Workspace, file: Path, o: ImportOptions) -> Path:
    check_fields(o)
    if not o.model_name.strip():
        raise UsageError("`model_name` is empty: name the model that made the predictions")
    if not 0 <= o.round <= MAX_ROUND:
        raise UsageError(f"`round` must be in [0, {MAX_ROUND}] (got {o.round})")
    if not file.is_file():
        raise UsageError(f"no such file: {file}")
    if not ws.class_names():
        raise UsageError("the workspace has no classes yet: ingest a labeled split (or `plabel init --classes`) first")
    trained = ws.scalar(query("workspace/newest_checkpoint_round"))  # None: no checkpoint yet
    newest = max([*ws.rounds("predictions"), -1 if trained is None else trained])
    if o.round > newest + 1:
        raise UsageError(f"round {o.round} would leave rounds {newest + 1}..{o.round - 1} without predictions: "
                         f"import round {newest + 1} next (rounds follow each other, as infer's do)")
    return file


def _match(ws: Workspace, recs: Records, root: Path, skip_unknown: bool, file: Path) -> Any:
    """Per record (image_id, split), or None for an unknown one that is skipped; and how many."""
    stored = [k if recs.key_column == "image_id" else ws.store_path(root / k) for k in recs.keys]
    keys = pa.table({"seq": pa.array(range(len(recs.keys)), pa.int64()), "key": recs.keys, "stored": stored,
                     "bare": ["/" not in k and os.sep not in k for k in recs.keys]})
    with ws.connect() as con:
        db.execute(con, query("images/first_rows"))
        with db.registered(con, "keys", keys):
            found = db.rows(con, query("external/match"))
    ambiguous = [recs.keys[s] for s, ids, _, _ in found if ids > 1]
    if ambiguous:
        raise UsageError(f"{file}: {len(ambiguous)} file names match more than one image (e.g. {ambiguous[0]!r}): "
                         "give paths (timm's `--fullname`, with `root` as its data dir) or content ids")
    unknown = [recs.keys[s] for s, ids, _, _ in found if ids == 0]
    if unknown and not skip_unknown:
        raise UsageError(f"{file}: {len(unknown)} rows name no image of this workspace (e.g. {unknown[0]!r}); "
                         "ingest them first, fix `root`, or pass `skip_unknown`")
    matched = [(image_id, split) if ids else None for _, ids, image_id, split in found]
    seen: dict[str, int] = {}
    for n, m in enumerate(matched):
        if m is not None and seen.setdefault(m[0], n) != n:
            raise UsageError(f"{file}: rows {seen[m[0]] + 1} and {n + 1} ({recs.keys[seen[m[0]]]!r}, "
                             f"{recs.keys[n]!r}) are the same image; keep one")
    return matched, len(unknown)


def _register(ws: Workspace, ckpt_id: str, o: ImportOptions, file: Path, digest: str, recs: Records,
              num_classes: int) -> None:
    """The external checkpoint's row: who made the predictions, from which file, when."""
    dest = ws.table_dir("checkpoints") / f"{ckpt_id}.parquet"
    if dest.exists():
        return  # the same file imported again: the same checkpoint
    config = {"kind": "external", "model": o.model_name, "file": ws.store_path(file), "file_hash": digest,
              "output_type": recs.output_type, "key_column": recs.key_column, "num_classes": num_classes,
              "classes": ws.class_names(), "topk": TOPK}
    row = {"checkpoint_id": ckpt_id, "round": o.round, "kind": "external", "model": o.model_name, "parent_id": None,
           "manifest_hash": digest, "manifest_path": ws.store_path(file), "run_id": f"import-{ckpt_id}",
           "num_classes": num_classes, "img_size": 0, "val_top1": None, "path": "",
           "config": json.dumps(config, sort_keys=True), "created_at": datetime.now(timezone.utc)}
    storage.write_rows([row], dest, table("checkpoints"))


def _drop_replaced_teachers(ws: Workspace, round: int) -> list[str]:
    """External checkpoints of round R whose predictions were replaced (rows without weights: only
    lineage of predictions that are gone); a trained checkpoint is never removed."""
    stale = [r[0] for r in ws.rows(query("external/replaced_teachers"), {"round": round})]
    for ckpt_id in stale:
        (ws.table_dir("checkpoints") / f"{ckpt_id}.parquet").unlink(missing_ok=True)
    return [f"external checkpoint {c}" for c in stale]


def _commit(ws: Workspace, round: int, rows: list[dict[str, Any]]) -> None:
    """The round's predictions, built in a private folder and renamed into place."""
    staging = ws.table_dir("predictions") / ".staging" / f"import-{uuid.uuid4().hex[:8]}"
    try:
        data = pa.Table.from_pylist(rows, schema=table("predictions").arrow_schema())
        storage.write_arrow(data, staging / storage.part_name(), table("predictions"))
        ws.commit_round("predictions", round, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


__all__ = ["OUTPUT_TYPES", "ImportOptions", "ImportResult", "import_predictions"]
