"""The teacher's pass over the pending images, buffered into staged part files."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from plabel import checkpoints, distributed, models, storage
from plabel.errors import DataError
from plabel.images import RejectedImage
from plabel.infer.options import InferOptions
from plabel.infer.rows import Rows, embeddings_table, forward, predictions_table, summarize
from plabel.infer.staging import Staging
from plabel.loading import load_image
from plabel.progress import Progress
from plabel.rejects import rejects_table
from plabel.schema import table
from plabel.workspace import Workspace


class PendingImages(IterableDataset[Any]):
    """Streams the images still to predict from a Parquet list: its row groups (one batch each)
    split over ranks (every world-th, from the rank's), then over the rank's workers."""

    def __init__(self, pending: Path, transform: Callable[[Any], Any], in_chans: int,
                 input_size: tuple[int, int, int], groups: list[int]) -> None:
        self.pending, self.transform, self.in_chans, self.input_size = str(pending), transform, in_chans, input_size
        self.groups = groups  # this rank's row groups

    def __iter__(self) -> Iterator[tuple[torch.Tensor, str, str, str, str]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        f = pq.ParquetFile(self.pending)
        for g in self.groups[worker::workers]:
            t = f.read_row_group(g)
            columns = (t.column(c).to_pylist() for c in ("image_id", "split", "path", "fs_path"))
            for image_id, split, path, source in zip(*columns, strict=True):  # path as stored: rejects name it
                try:
                    x = self.transform(load_image(source, self.in_chans))
                    yield x, image_id, split, path, ""
                except RejectedImage as e:
                    yield torch.zeros(self.input_size), image_id, split, path, str(e)


def _check_finite(logits: torch.Tensor, checkpoint_id: str, example: str) -> None:
    if not bool(torch.isfinite(logits).all()):  # NaN confidences would sort above every real one
        raise DataError(
            f"checkpoint {checkpoint_id} gives NaN or infinite outputs (batch starting at image {example}): "
            "its weights are broken, e.g. by a diverged training; nothing was committed"
        )


@dataclass
class _Predictor:
    """One pass of the teacher over the pending images, buffered into staged part files."""

    ws: Workspace
    o: InferOptions
    ckpt: checkpoints.Checkpoint
    device: torch.device
    st: Staging
    model: torch.nn.Module
    rows: Rows = field(default_factory=Rows)
    embs: Rows = field(default_factory=Rows)
    bad_rows: Rows = field(default_factory=Rows)
    predicted: int = 0
    rejected: int = 0

    def batch(self, x: torch.Tensor, image_ids: Sequence[str], splits: Sequence[str], paths: Sequence[str],
              reasons: Sequence[str]) -> None:
        bad = [i for i, r in enumerate(reasons) if r]
        if bad:
            self.bad_rows.add(image_id=[image_ids[i] for i in bad], split=[splits[i] for i in bad],
                              path=[paths[i] for i in bad], reason=[reasons[i] for i in bad])
            self.rejected += len(bad)
        good = [i for i, r in enumerate(reasons) if not r]
        if good:
            self.predict(x[good], [image_ids[i] for i in good], [splits[i] for i in good])
        if self.rows.n + self.bad_rows.n >= self.o.flush_rows:
            self.flush()

    def predict(self, x: torch.Tensor, ids: list[str], splits: list[str]) -> None:
        o, device = self.o, self.device
        x = x.to(device, non_blocking=True)
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=o.amp and device.type == "cuda"):
            logits, feats = forward(self.model, x, o.embeddings)
        _check_finite(logits, self.ckpt.checkpoint_id, ids[0])
        s = summarize(logits, float(o.temperature), o.topk)  # infer() resolved auto to the fitted value
        full = {"probs": s["probs"]} if o.store_probs == "full" else {}
        self.rows.add(image_id=ids, split=splits, index=s["index"], prob=s["prob"], margin=s["margin"],
                      entropy=s["entropy"], **full)
        if feats is not None:
            self.embs.add(image_id=ids, split=splits, embedding=feats.cpu().numpy())
        self.predicted += len(ids)

    def flush(self) -> None:
        """Write the buffered whole batches as parts of one name; the predictions part goes last and
        marks the flush as done (it is written even when every image of the flush was unreadable)."""
        if self.rows.n + self.bad_rows.n == 0:
            return
        o, st, ckpt_id, name = self.o, self.st, self.ckpt.checkpoint_id, storage.part_name()
        if self.bad_rows.n:
            storage.write_arrow(rejects_table(self.bad_rows.take(), "infer", o.round, st.infer_id),
                                st.rejects / name, table("rejects"))
        if st.embeddings is not None and self.embs.n:
            storage.write_arrow(embeddings_table(self.embs.take(), ckpt_id), st.embeddings / name,
                                table("embeddings"))
        data = (predictions_table(self.rows.take(), ckpt_id, float(o.temperature), o.store_probs == "full")
                if self.rows.n else table("predictions").arrow_schema().empty_table())
        storage.write_arrow(data, st.predictions / name, table("predictions"))


def predict(ws: Workspace, o: InferOptions, ckpt: checkpoints.Checkpoint, scratch: Path, st: Staging,
            progress: Progress) -> tuple[int, int, float]:
    """Predict the pending images listed in `scratch`; (predicted, rejected, seconds)."""
    listing = storage.footer(scratch)
    groups = list(distributed.shard(listing.num_row_groups))
    pending = sum(listing.row_group(g).num_rows for g in groups)
    if pending == 0:
        return 0, 0, 0.0
    device = models.resolve_device(o.device)
    model = checkpoints.build_model(ckpt, use_ema=o.use_ema, device=device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    dc = ckpt.data_config
    dataset = PendingImages(scratch, models.eval_transform(dc), dc.input_size[0], dc.input_size, groups)
    workers = min(o.workers, len(groups))
    # one row group per batch and per worker stream: each batch is one block of the pending list
    loader = DataLoader(dataset, batch_size=o.batch_size, num_workers=workers, pin_memory=device.type == "cuda")
    p = _Predictor(ws, o, ckpt, device, st, model)
    task = progress.task(f"infer round {o.round}", pending, "images")
    started = time.perf_counter()
    try:
        with torch.inference_mode():
            for x, image_ids, splits, paths, reasons in loader:
                p.batch(x, image_ids, splits, paths, reasons)
                task.advance(len(reasons))
        p.flush()
    finally:
        task.close()
    return p.predicted, p.rejected, time.perf_counter() - started
