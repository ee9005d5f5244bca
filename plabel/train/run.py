"""`train`: plan, build, resume, the epochs, the checkpoint."""
from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plabel import checkpoints, distributed
from plabel.evaluate import labeled_split
from plabel.loading import TrainImages
from plabel.progress import NULL, Progress
from plabel.queries import query
from plabel.train import advice
from plabel.train.build import Parts, build_parts, transform
from plabel.train.epoch import Diverged, record_divergence, run_epoch, validate_epoch, write_run_row
from plabel.train.options import TrainOptions, TrainResult
from plabel.train.plan import RunPlan, plan_run
from plabel.train.state import load_state, save_state
from plabel.values import as_dict
from plabel.workspace import Workspace


def train(ws: Workspace, options: TrainOptions, progress: Progress = NULL, resume: bool = True) -> TrainResult:
    """Train round R's model; resume a killed run (unless `resume` is False: start it over);
    return the existing checkpoint of a finished one."""
    started = time.perf_counter()
    distributed.init()  # under torchrun: DistributedDataParallel, each rank a share of every batch
    with distributed.main_first():  # rank 0 writes round 0's labeled manifest
        plan = plan_run(ws, options)
    o = plan.options
    done = ws.scalar(query("train/existing_run"), {"run_id": plan.run_id})
    if done:
        ckpt = checkpoints.find(ws, done)
        return TrainResult(checkpoint_id=done, round=ckpt.round, kind=plan.kind, run_id=plan.run_id,
                           epochs=plan.epochs, resumed_from_epoch=None, already_trained=True,
                           skipped_missing=plan.skipped_missing, metrics=ckpt.config.get("metrics", {}),
                           seconds=time.perf_counter() - started, notes=plan.notes)
    with distributed.writing(ws, f"plabel train --round {o.round}"):
        parts = build_parts(plan)
        few = advice.steps_note(plan.epochs, parts.plan.steps, o.batch_size)
        plan.notes += [few] if few else []
        run_dir = ws.train_dir / plan.run_id
        if not resume and distributed.is_main():
            shutil.rmtree(run_dir, ignore_errors=True)
        distributed.barrier()  # every rank reads the same saved state
        resumed = load_state(run_dir, parts)
        plan.notes += _world_note(resumed)
        at = _Position(resumed[0] + 1, resumed[1], resumed[2]) if resumed else _Position(0, 0, [])
        first_epoch, history = at.epoch, at.history
        for row in history if distributed.is_main() else []:  # rows saved before a kill may not be in the table
            write_run_row(ws, plan, row)
        skipped = _epochs(ws, plan, parts, run_dir, at, progress)
        last = history[-1]
        metrics = {"val_top1": last["val_top1"], "val_top5": last["val_top5"], "loss": last["loss"]}
        ckpt_id = _save(ws, plan, parts, metrics, run_dir)
    ckpt = checkpoints.find(ws, ckpt_id)
    return TrainResult(checkpoint_id=ckpt.checkpoint_id, round=ckpt.round, kind=plan.kind, run_id=plan.run_id,
                       epochs=plan.epochs, resumed_from_epoch=first_epoch if resumed else None, already_trained=False,
                       skipped_missing=plan.skipped_missing + skipped, metrics=metrics, history=history,
                       seconds=time.perf_counter() - started, notes=plan.notes)


def _save(ws: Workspace, plan: RunPlan, parts: Parts, metrics: dict[str, Any], run_dir: Path) -> str:
    """Rank 0 writes the checkpoint and drops the run's states; every rank gets its id."""
    ckpt_id = None
    if distributed.is_main():
        config = dict(_checkpoint_config(plan, parts, metrics), world_size=distributed.world())
        ckpt = checkpoints.save(ws, parts.model, parts.ema.module if parts.ema is not None else None, config)
        shutil.rmtree(run_dir, ignore_errors=True)
        ckpt_id = ckpt.checkpoint_id
    return str(distributed.broadcast(ckpt_id))


def _world_note(resumed: tuple[int, int, list[dict[str, Any]], int] | None) -> list[str]:
    """What resuming with another number of processes changes (the draws do not)."""
    if resumed is None or resumed[3] == distributed.world():
        return []
    return [f"resumed a run of {resumed[3]} processes with {distributed.world()}: every step draws the same global "
            f"batch, cut into other per-process parts, so BatchNorm statistics (per process unless --sync-bn) and "
            f"floating-point sums differ slightly from an uninterrupted run"]


@dataclass
class _Position:
    """Where a run stands: the next epoch, the optimizer steps so far, the rows of the epochs done."""

    epoch: int
    step: int
    history: list[dict[str, Any]]


def _epochs(ws: Workspace, plan: RunPlan, parts: Parts, run_dir: Path, at: _Position, progress: Progress) -> int:
    """The remaining epochs of the run, each saved (state, then its runs row); images skipped."""
    o, dc = plan.options, parts.data_config
    val = labeled_split(ws, "val")
    dataset = TrainImages(plan.manifest.files, transform(plan, dc), dc.input_size[0], dc.input_size)
    skipped, step, history = 0, at.step, at.history
    for epoch in range(at.epoch, plan.epochs):
        task = progress.task(f"train round {o.round} epoch {epoch + 1}/{plan.epochs}", parts.plan.steps, "steps")
        try:
            step, row, bad = run_epoch(plan, parts, dataset, epoch, step, task)
        except Diverged as d:
            raise record_divergence(ws, plan, parts, d) from None
        finally:
            task.close()
        skipped += bad
        row["val_top1"], row["val_top5"] = validate_epoch(plan, parts, val)
        history.append(row)
        if distributed.is_main():  # one writer of states and rows
            save_state(run_dir, parts, epoch, step, history)
            write_run_row(ws, plan, row)
    return skipped


def _checkpoint_config(plan: RunPlan, parts: Parts, metrics: dict[str, Any]) -> dict[str, Any]:
    m = plan.manifest
    return {
        "round": plan.options.round,
        "kind": plan.kind,
        "model": plan.model_name,
        "num_classes": len(plan.classes),
        "classes": plan.classes,
        "in_chans": parts.data_config.input_size[0],
        "data_config": as_dict(parts.data_config),
        "ema": parts.ema is not None,
        "train": plan.resolved(),
        "manifest": {
            "path": m.path,
            "hash": m.hash,
            "rows": len(m),
            "labeled": int((~m.pseudo).sum()),
            "pseudo": int(m.pseudo.sum()),
            "skipped_missing": plan.skipped_missing,
        },
        "parent_id": plan.parent.checkpoint_id if plan.parent else None,
        "init_id": plan.init.checkpoint_id if plan.init else None,
        "run_id": plan.run_id,
        "metrics": {k: (None if v is None or math.isnan(v) else round(v, 6)) for k, v in metrics.items()},
    }
