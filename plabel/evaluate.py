"""`plabel eval`: accuracy of a checkpoint on the val or test split, into the `evals` table."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from plabel import checkpoints, distributed, holdout, models, storage
from plabel.errors import UsageError, check_fields
from plabel.eval_options import EvalOptions
from plabel.loading import ImageFiles, to_bytes_array
from plabel.progress import NULL, Progress
from plabel.queries import query
from plabel.rejects import rejects_table
from plabel.schema import table
from plabel.workspace import Workspace


@dataclass
class LabeledSplit:
    image_ids: list[str]
    files: np.ndarray  # what readers open (Workspace.sources)
    targets: np.ndarray
    paths: list[str]  # as stored: what rejects rows name

    def __len__(self) -> int:
        return len(self.targets)


def labeled_split(ws: Workspace, split: str, limit: int | None = None) -> LabeledSplit:
    return as_split(ws, ws.rows(query("evaluate/labeled_split"), {"split": split}), limit)


def as_split(ws: Workspace, rows: list[tuple[Any, ...]], limit: int | None = None) -> LabeledSplit:
    """Rows of (image_id, path, class_id, shard, member_offset, bytes) as a labeled split, the first
    `limit` of them."""
    if limit:
        rows = rows[:limit]
    sources = [ws.source(r[1], *r[3:6]) for r in rows]
    return LabeledSplit([r[0] for r in rows], to_bytes_array(sources),
                        np.array([r[2] for r in rows], dtype=np.int64), [r[1] for r in rows])


def loader(files: np.ndarray, transform: models.Transform, dc: models.DataConfig, batch_size: int, workers: int,
           device: torch.device) -> DataLoader[Any]:
    dataset = ImageFiles(files, transform, dc.input_size[0], dc.input_size)
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers,
                      pin_memory=device.type == "cuda")


@torch.inference_mode()
def predict_logits(model: torch.nn.Module, files: np.ndarray, dc: models.DataConfig, options: EvalOptions | None = None,
                   progress: Progress = NULL, description: str = "predict") -> tuple[np.ndarray, dict[int, str]]:
    """Logits for every file (un-augmented, on the model's device), and {index: reason} for the
    files that could not be read. Under torchrun each rank predicts every world-th file and all
    ranks get the whole result."""
    o = options or EvalOptions()
    device = next(model.parameters()).device
    mine = np.asarray(distributed.shard(len(files)), np.int64)
    task = progress.task(description, len(mine), "images")
    chunks, bad = [], {}
    for x, idx, reasons in loader(files[mine], models.eval_transform(dc), dc, o.batch_size, o.workers, device):
        chunks.append((mine[idx.numpy()], model(x.to(device)).float().cpu().numpy()))
        bad.update({int(mine[i]): r for i, r in zip(idx.tolist(), reasons, strict=True) if r})
        task.advance(len(idx))
    task.close()
    if distributed.active():
        parts = distributed.gather((chunks, bad))
        chunks = [c for part, _ in parts for c in part]
        bad = {i: r for _, b in parts for i, r in b.items()}
    width = next((logits.shape[1] for _, logits in chunks), 0)
    out = np.zeros((len(files), width), np.float32)
    for idx, logits in chunks:
        out[idx] = logits
    return out, bad


def accuracy(logits: np.ndarray, targets: np.ndarray, k: int = 1) -> float:
    if len(targets) == 0:
        return float("nan")
    k = min(k, logits.shape[1])
    topk = np.argpartition(-logits, k - 1, axis=1)[:, :k] if k > 1 else logits.argmax(1)[:, None]
    return float((topk == targets[:, None]).any(1).mean() * 100)


@dataclass(kw_only=True)
class EvalResult:
    eval_id: str
    checkpoint_id: str
    round: int
    split: str
    n: int
    top1: float
    top5: float
    per_class: dict[str, float] = field(default_factory=dict)
    confusion: list[list[int]] = field(default_factory=list)
    unreadable: int = 0



def evaluate(ws: Workspace, options: EvalOptions, progress: Progress = NULL) -> EvalResult:
    """Top-1, top-5, per-class accuracy and the confusion matrix of a checkpoint on a split."""
    o, checkpoint, split = options, options.checkpoint, options.split
    distributed.init()  # under torchrun: each rank predicts a share, rank 0 writes
    check_fields(o)
    ckpt = checkpoints.find(ws, checkpoint)
    classes = ws.class_names()
    checkpoints.check_classes(ckpt, classes)
    if o.limit is not None and o.limit < 1:
        raise UsageError("`limit` must be >= 1")
    data = holdout.labeled(ws, ckpt.checkpoint_id, o.limit) if split == "holdout" else labeled_split(ws, split, o.limit)
    if not len(data):
        raise UsageError(f"no labeled {split} images in the workspace" if split != "holdout" else
                         f"checkpoint {ckpt.checkpoint_id} held no labeled images out of training (train `holdout`)")
    dev = models.resolve_device(o.device)
    model = checkpoints.build_model(ckpt, use_ema=o.use_ema, device=dev)
    logits, bad = predict_logits(model, data.files, ckpt.data_config, o, progress,
                                 f"eval {split}")
    ok = np.array([i not in bad for i in range(len(data))], dtype=bool)
    logits, targets = logits[ok], data.targets[ok]
    confusion = _confusion(logits, targets, len(classes))
    per_class = {classes[c]: float(row[c] / row.sum() * 100) for c, row in enumerate(confusion) if row.sum()}
    result = EvalResult(eval_id=uuid.uuid4().hex[:12], checkpoint_id=ckpt.checkpoint_id, round=ckpt.round, split=split,
                        n=int(ok.sum()), top1=accuracy(logits, targets, 1), top5=accuracy(logits, targets, 5),
                        per_class=per_class, confusion=confusion.tolist(), unreadable=len(bad))
    result.eval_id = distributed.broadcast(result.eval_id)  # one id for the rows, whichever rank reports
    if not distributed.is_main():  # rank 0 writes the rows every rank computed
        return result
    with ws.writing("plabel eval"):
        write_rows(ws, result.eval_id, ckpt, split, _clean_rows(result, classes, confusion))
        if bad:
            unreadable = [(data.image_ids[i], data.paths[i], r) for i, r in bad.items()]
            record_rejects(ws, unreadable, "eval", split, ckpt.round, result.eval_id)
    return result


def _confusion(logits: np.ndarray, targets: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class)."""
    confusion = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(confusion, (targets, logits.argmax(1)), 1)
    return confusion


def _clean_rows(r: EvalResult, classes: list[str], confusion: np.ndarray) -> list[dict[str, Any]]:
    rows = [
        dict(kind="clean", metric="top1", value=r.top1, n=r.n),
        dict(kind="clean", metric="top5", value=r.top5, n=r.n),
    ]
    for c in range(len(classes)):
        support = int(confusion[c].sum())
        if support:
            rows.append(
                dict(
                    kind="clean",
                    metric="class_top1",
                    class_id=c,
                    value=float(confusion[c, c] / support * 100),
                    n=support,
                )
            )
        for p in np.flatnonzero(confusion[c]):
            rows.append(
                dict(
                    kind="clean",
                    metric="confusion",
                    class_id=c,
                    pred_class_id=int(p),
                    value=float(confusion[c, p]),
                    n=support,
                )
            )
    return rows


def write_rows(ws: Workspace, eval_id: str, ckpt: checkpoints.Checkpoint, split: str,
               rows: list[dict[str, Any]]) -> None:
    """Append measurements to `evals` (one part file per call)."""
    now = datetime.now(timezone.utc)
    full = [
        {
            "eval_id": eval_id,
            "checkpoint_id": ckpt.checkpoint_id,
            "round": ckpt.round,
            "split": split,
            "evaluated_at": now,
            **row,
        }
        for row in rows
    ]
    storage.write_rows(full, ws.table_dir("evals") / storage.part_name(), table("evals"))


def record_rejects(
    ws: Workspace, items: list[tuple[str, str, str]], stage: str, split: str, round: int, source_id: str
) -> None:
    """Commit rejects rows for (image id, path as stored, reason) items of one split."""
    found = {"image_id": [i for i, _, _ in items], "path": [p for _, p, _ in items],
             "reason": [r for _, _, r in items], "split": [split] * len(items)}
    dest = ws.table_dir("rejects") / storage.part_name()
    storage.write_arrow(rejects_table(found, stage, round, source_id), dest, table("rejects"))
