"""`infer`: predict round R's rows with round R's teacher, exactly once per image."""
from __future__ import annotations

import time
from dataclasses import asdict, replace
from pathlib import Path

from plabel import checkpoints, distributed, models, storage
from plabel.calibration import fitted_temperature
from plabel.infer.options import InferOptions, InferResult, validate
from plabel.infer.predict import predict
from plabel.infer.staging import Staging, commit, open_staging, write_pending
from plabel.progress import NULL, Progress
from plabel.schema import table
from plabel.workspace import Workspace


def infer(ws: Workspace, options: InferOptions, progress: Progress = NULL) -> InferResult:
    """Predict round R's rows with round R's teacher (un-noised: eval mode, EMA weights)."""
    started = time.perf_counter()
    o = options
    validate(o)
    distributed.init()  # under torchrun: each rank predicts its share of the blocks
    if "unlabeled" not in o.splits:
        o = InferOptions(**{**asdict(o), "splits": ("unlabeled", *o.splits)})
    ckpt = checkpoints.find(ws, o.checkpoint, None if o.checkpoint else o.round)
    checkpoints.check_classes(ckpt, ws.class_names())
    if o.temperature == "auto":
        o = replace(o, temperature=fitted_temperature(ws, ckpt.checkpoint_id))
    done_dir = ws.round_dir("predictions", o.round)
    if ws.has_round("predictions", o.round) and not o.overwrite:  # a folder emptied by hand is predicted again
        return InferResult(round=o.round, checkpoint_id=ckpt.checkpoint_id, predicted=0, resumed=0, rejected=0,
                           already_complete=True, seconds=time.perf_counter() - started, images_per_s=0.0,
                           bytes_on_disk=folder_bytes(done_dir), rows=folder_rows(done_dir))
    models.resolve_device(o.device)  # a bad --device fails before anything is written
    with distributed.writing(ws, f"plabel infer --round {o.round}"):
        with distributed.main_first():  # rank 0 opens the staging and lists the pending images
            st = open_staging(ws, o, ckpt.checkpoint_id)
            scratch = ws.root / ".scratch" / f"infer-round{o.round}-{st.infer_id}.parquet"
            staged = write_pending(ws, o, st, scratch) if distributed.is_main() else 0
        try:
            predicted, rejected, seconds = predict(ws, o, ckpt, scratch, st, progress)  # this rank's blocks
            distributed.barrier()  # every rank's parts are written
        finally:
            if distributed.is_main():
                scratch.unlink(missing_ok=True)
        predicted, rejected, seconds = _summed(predicted, rejected, seconds)
        removed = _commit(ws, o, st) if distributed.is_main() else []
    rate = predicted / seconds if seconds else 0.0
    return InferResult(round=o.round, checkpoint_id=ckpt.checkpoint_id, predicted=predicted, resumed=staged,
                       rejected=rejected, already_complete=False, seconds=time.perf_counter() - started,
                       images_per_s=rate, bytes_on_disk=folder_bytes(done_dir), rows=folder_rows(done_dir),
                       removed=removed)


def _summed(predicted: int, rejected: int, seconds: float) -> tuple[int, int, float]:
    """The counts of every rank; the slowest rank's time (they ran side by side)."""
    total = distributed.all_sum([predicted, rejected])
    return int(total[0]), int(total[1]), max(distributed.gather(seconds))


def _commit(ws: Workspace, o: InferOptions, st: Staging) -> list[str]:
    """Commit the round; what replaced predictions had given rise to goes first (its names)."""
    if not st.parts():  # nothing to predict at all: the round exists, empty
        empty = table("predictions").arrow_schema().empty_table()
        storage.write_arrow(empty, st.predictions / storage.part_name(), table("predictions"))
    removed = ws.retire_derived(o.round) if o.overwrite else []
    commit(ws, o, st)
    return removed


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.parquet")) if folder.exists() else 0


def folder_rows(folder: Path) -> int:
    return storage.row_count(folder.glob("*.parquet")) if folder.exists() else 0
