"""One epoch: draws, the mixed Noisy Student loss, the optimizer step; divergence."""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from plabel import distributed, storage
from plabel.errors import DataError, TrainingDiverged
from plabel.evaluate import LabeledSplit, accuracy, predict_logits
from plabel.loading import TrainImages, seeded_batches
from plabel.manifest import Manifest
from plabel.progress import Task
from plabel.sampling import rank_share
from plabel.schema import table
from plabel.train.build import Parts
from plabel.train.options import TrainOptions
from plabel.train.plan import RunPlan
from plabel.workspace import Workspace


def _loss(logits: torch.Tensor, rows: np.ndarray, m: Manifest, smoothing: float) -> torch.Tensor:
    """Per-row loss: soft cross-entropy where a soft label exists, else smoothed hard CE."""
    target = torch.as_tensor(m.target[rows], device=logits.device)
    loss = F.cross_entropy(logits, target, reduction="none", label_smoothing=smoothing)
    if m.has_soft:
        dense, has = m.soft_targets(rows, logits.shape[1])
        if has.any():
            q = torch.as_tensor(dense, device=logits.device)
            soft = -(q * F.log_softmax(logits, dim=-1)).sum(-1)
            loss = torch.where(torch.as_tensor(has, device=logits.device), soft, loss)
    return loss


def _stream_means(per_row: torch.Tensor, weight: torch.Tensor, lab: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The weighted mean loss of the labeled rows (the first `lab`) and of the pseudo rows, over
    the rows that count (weight > 0) of the whole global batch. Under torchrun a rank holds a part:
    its sum is divided by the global count and multiplied by the world size, so that DDP's
    average of the ranks' gradients is the gradient of the one-process mean."""
    counts = [float((weight[:lab] > 0).sum()), float((weight[lab:] > 0).sum())]
    world = distributed.world()
    counts = distributed.all_sum(counts) if world > 1 else counts
    lab_sum, unl_sum = (per_row[:lab] * weight[:lab]).sum(), (per_row[lab:] * weight[lab:]).sum()
    return lab_sum / max(counts[0], 1.0) * world, unl_sum / max(counts[1], 1.0) * world


def run_epoch(plan: RunPlan, parts: Parts, dataset: TrainImages, epoch: int, step: int,
              task: Task) -> tuple[int, dict[str, Any], int]:
    o = plan.options
    torch.manual_seed(o.seed * 1_000_003 + epoch)  # dropout and drop-path draws of this epoch
    # the plan draws positions (labeled rows first, then pseudo); the dataset reads manifest rows
    batches = seeded_batches([parts.order[b] for b in parts.plan.batches(o.seed, epoch)], o.seed, epoch)
    # under torchrun each rank takes its share of every global batch (seeds travel with the draws)
    mine = [rank_share(b, parts.plan.lab_bs, distributed.rank(), distributed.world())[0] for b in batches]
    loader = DataLoader(dataset, batch_sampler=mine, num_workers=o.workers, pin_memory=parts.device.type == "cuda")
    sums = np.zeros(3)  # loss, labeled loss, pseudo loss
    skipped = 0
    started = time.perf_counter()
    parts.model.train()
    for x, rows, reasons in loader:
        rows = rows.numpy()
        bad = _unreadable(plan, rows, reasons)
        skipped += int(bad.sum())
        losses = _losses(plan, parts, x, rows, bad)
        if not math.isfinite(losses[0]):  # a diverged model must never become a checkpoint
            raise Diverged(epoch, step + 1, losses[0], time.perf_counter() - started)
        step += 1
        _optimize(parts, o, step)
        sums += losses
        task.advance(1)
    seconds = time.perf_counter() - started
    steps, lab_bs, unl_bs = len(batches), parts.plan.lab_bs, parts.plan.unl_bs
    return step, {
        "epoch": epoch, "step": step, "loss": sums[0] / steps, "lab_loss": sums[1] / steps,
        "unl_loss": sums[2] / steps if unl_bs else None, "lr": float(parts.optimizer.param_groups[0]["lr"]),
        "images_per_s": steps * (lab_bs + unl_bs) / seconds, "seconds": seconds,
    }, skipped


def _unreadable(plan: RunPlan, rows: np.ndarray, reasons: Sequence[str]) -> np.ndarray:
    """Which rows of a batch could not be read; DataError unless --skip-missing."""
    bad = np.array([bool(r) for r in reasons])
    if bad.any() and not plan.options.skip_missing:
        j = int(np.flatnonzero(bad)[0])
        path = plan.manifest.files[rows[j]].decode()
        raise DataError(f"{path}: {reasons[j]} (pass `skip_missing` to skip unreadable images)")
    return bad


def _losses(plan: RunPlan, parts: Parts, x: torch.Tensor, rows: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Forward and backward of one batch; (loss, labeled loss, pseudo loss) as numbers."""
    o, m = plan.options, plan.manifest
    lab_bs, unl_bs = parts.plan.lab_bs, parts.plan.unl_bs  # of the global batch
    mine = rank_share(list(range(lab_bs + unl_bs)), lab_bs, distributed.rank(), distributed.world())[1]
    x = x.to(parts.device, non_blocking=True)
    if parts.device.type == "cuda" and o.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    weight = torch.as_tensor(m.weight[rows] * ~bad, device=parts.device)
    with torch.autocast(parts.device.type, dtype=torch.bfloat16, enabled=o.amp and parts.device.type == "cuda"):
        logits = parts.net(x)
    per_row = _loss(logits.float(), rows, m, o.label_smoothing)
    lab_loss, unl_loss = _stream_means(per_row, weight, mine)
    # the official Noisy Student loss: pseudo rows weigh unl_bs / lab_bs as much as labeled ones
    loss = (lab_loss * lab_bs + unl_loss * unl_bs) / lab_bs if lab_bs else unl_loss
    values = np.array(distributed.all_sum([loss.item(), lab_loss.item(), unl_loss.item()])) / distributed.world()
    if math.isfinite(values[0]):
        parts.optimizer.zero_grad(set_to_none=True)
        loss.backward()
    return values


def _optimize(parts: Parts, o: TrainOptions, step: int) -> None:
    if o.clip_grad:
        torch.nn.utils.clip_grad_norm_(parts.model.parameters(), o.clip_grad)
    parts.optimizer.step()
    parts.scheduler.step_update(step)
    if parts.ema is not None:
        parts.ema.update(parts.model, step=step)


class Diverged(Exception):
    def __init__(self, epoch: int, step: int, loss: float, seconds: float):
        super().__init__(f"non-finite loss ({loss}) at step {step}")
        self.epoch, self.step, self.loss, self.seconds = epoch, step, loss, seconds


def record_divergence(ws: Workspace, plan: RunPlan, parts: Parts, d: Diverged) -> TrainingDiverged:
    """A `runs` row that says why the run stopped, and the error to raise (exit 1)."""
    reason = f"non-finite loss ({d.loss}) at step {d.step}"
    row = {"epoch": d.epoch, "step": d.step, "loss": d.loss, "lab_loss": math.nan, "unl_loss": None,
           "lr": float(parts.optimizer.param_groups[0]["lr"]), "images_per_s": 0.0, "seconds": d.seconds,
           "failure": reason}
    if distributed.is_main():  # every rank sees the same (summed) loss; one writes the row
        write_run_row(ws, plan, row)
    return TrainingDiverged(
        f"training diverged in epoch {d.epoch + 1}: {reason}; no checkpoint was written "
        f"(lower --lr, currently {plan.options.lr:g}, or set --clip-grad)"
    )


def validate_epoch(plan: RunPlan, parts: Parts, val: LabeledSplit | None) -> tuple[float | None, float | None]:
    if val is None or not len(val):
        return None, None
    model = parts.ema.module if parts.ema is not None else parts.model
    model.eval()
    logits, bad = predict_logits(model, val.files, parts.data_config)
    ok = np.array([i not in bad for i in range(len(val))], dtype=bool)
    return accuracy(logits[ok], val.targets[ok], 1), accuracy(logits[ok], val.targets[ok], 5)


def write_run_row(ws: Workspace, plan: RunPlan, row: dict[str, Any]) -> None:
    full = {"run_id": plan.run_id, "round": plan.options.round, **row}
    dest = ws.table_dir("runs") / f"{plan.run_id}-epoch{row['epoch']:05d}.parquet"
    storage.write_rows([full], dest, table("runs"))
