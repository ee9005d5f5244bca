"""`plabel infer`: round R's teacher predicts on the unlabeled pool, into partitioned Parquet.

Exactly once: rows are flushed as part files into `tables/predictions/.staging/round=R/` as
batches complete; a re-run skips the images already staged there and, when the pool is done,
renames the staging folder to `round=R/` in one step. A query sees a round complete or not at
all, a kill loses at most the rows not yet flushed, and no image is predicted twice.

The images are batched in fixed blocks of `batch_size` (in image id order), and part files hold
whole blocks, so a resumed run forms the same batches as an uninterrupted one: on a CPU the
numbers of an image's row do not depend on the run having been killed.
"""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from plabel import checkpoints, db, models, storage
from plabel.data import load_image
from plabel.errors import DataError, UsageError, check_finite
from plabel.images import RejectedImage
from plabel.progress import NULL
from plabel.schema import table
from plabel.sql import query
from plabel.workspace import SPLITS, Workspace

STORE_PROBS = ("topk", "full")

# Each image once, in the first split of this order that holds it.


@dataclass(frozen=True)
class InferOptions:
    round: int
    checkpoint: str | None = None  # default: round R's checkpoint
    splits: tuple[str, ...] = ("unlabeled",)  # the unlabeled pool, plus any of val, test, train
    topk: int = 5
    store_probs: str = "topk"
    embeddings: bool = False
    temperature: float = 1.0
    batch_size: int = 256
    workers: int = 2
    device: str = "auto"
    amp: bool = True
    use_ema: bool = True
    overwrite: bool = False
    flush_rows: int = 32768  # rows per part file: bounds memory whatever the pool size


@dataclass
class InferResult:
    round: int
    checkpoint_id: str
    predicted: int  # rows written by this call
    resumed: int  # rows found staged by an interrupted call
    rejected: int
    already_complete: bool
    seconds: float
    images_per_s: float
    bytes_on_disk: int
    rows: int  # rows in the committed round

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def validate(o: InferOptions) -> None:
    check_finite(o)
    if o.round < 0:
        raise UsageError("--round must be >= 0")
    if o.topk < 1:
        raise UsageError("--topk must be >= 1")
    if o.store_probs not in STORE_PROBS:
        raise UsageError(f"--store-probs must be one of {', '.join(STORE_PROBS)}")
    if not o.temperature > 0:
        raise UsageError("--temperature must be > 0")
    bad = [s for s in o.splits if s not in SPLITS]
    if bad:
        raise UsageError(f"--split must name splits among {', '.join(SPLITS)} (got {', '.join(bad)})")
    if o.batch_size < 1 or o.flush_rows < 1:
        raise UsageError("--batch-size must be >= 1")


class PendingImages(IterableDataset):
    """Streams the images still to predict from a Parquet list, row groups split over workers."""

    def __init__(self, pending: Path, transform, in_chans: int, input_size):
        self.pending, self.transform, self.in_chans, self.input_size = str(pending), transform, in_chans, input_size

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        f = pq.ParquetFile(self.pending)
        for g in range(worker, f.num_row_groups, workers):
            t = f.read_row_group(g)
            columns = (t.column(c).to_pylist() for c in ("image_id", "split", "fs_path"))
            for image_id, split, path in zip(*columns, strict=True):
                try:
                    x = self.transform(load_image(path, self.in_chans))
                    yield x, image_id, split, path, ""
                except RejectedImage as e:
                    yield torch.zeros(self.input_size), image_id, split, path, str(e)


def _list_array(values: np.ndarray, arrow_type: pa.DataType) -> pa.ListArray:
    n, k = values.shape
    offsets = pa.array(np.arange(0, (n + 1) * k, k, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(values.reshape(-1), type=arrow_type))


class _Rows:
    """Column buffers of finished rows, written as one part file per flush."""

    def __init__(self):
        self.cols: dict[str, list] = {}
        self.n = 0

    def add(self, **cols) -> None:
        for k, v in cols.items():
            self.cols.setdefault(k, []).append(v)
        self.n += len(next(iter(cols.values())))

    def take(self) -> dict[str, np.ndarray | list]:
        out = {k: (np.concatenate(v) if isinstance(v[0], np.ndarray) else [x for part in v for x in part])
               for k, v in self.cols.items()}
        self.cols, self.n = {}, 0
        return out


def _predictions_table(c: dict, checkpoint_id: str, temperature: float, full: bool) -> pa.Table:
    n = len(c["image_id"])
    return pa.table(
        {
            "image_id": pa.array(c["image_id"], pa.string()),
            "split": pa.array(c["split"], pa.string()),
            "checkpoint_id": pa.array([checkpoint_id] * n, pa.string()),
            "class_id": pa.array(c["index"][:, 0].astype(np.int32)),
            "confidence": pa.array(c["prob"][:, 0].astype(np.float32)),
            "margin": pa.array(c["margin"].astype(np.float32)),
            "entropy": pa.array(c["entropy"].astype(np.float32)),
            "index": _list_array(c["index"].astype(np.int32), pa.int32()),
            "prob": _list_array(c["prob"].astype(np.float32), pa.float32()),
            "probs": _list_array(c["probs"].astype(np.float16), pa.float16())
            if full
            else pa.nulls(n, pa.list_(pa.float16())),
            "temperature": pa.array(np.full(n, temperature, np.float32)),
        }
    )


def _embeddings_table(c: dict, checkpoint_id: str) -> pa.Table:
    n = len(c["image_id"])
    return pa.table(
        {
            "image_id": pa.array(c["image_id"], pa.string()),
            "split": pa.array(c["split"], pa.string()),
            "checkpoint_id": pa.array([checkpoint_id] * n, pa.string()),
            "embedding": _list_array(c["embedding"].astype(np.float16), pa.float16()),
        }
    )


def summarize(logits: torch.Tensor, temperature: float, topk: int) -> dict[str, np.ndarray]:
    """Probabilities at temperature T and what a prediction row keeps of them."""
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    k = min(max(topk, 2), probs.shape[1])
    top_p, top_i = probs.topk(k, dim=-1)
    margin = top_p[:, 0] - top_p[:, 1] if k > 1 else torch.ones_like(top_p[:, 0])
    entropy = -(probs * torch.log(probs.clamp_min(1e-30))).sum(-1)
    keep = min(topk, probs.shape[1])
    return {
        "index": top_i[:, :keep].cpu().numpy(),
        "prob": top_p[:, :keep].cpu().numpy(),
        "margin": margin.cpu().numpy(),
        "entropy": entropy.cpu().numpy(),
        "probs": probs.cpu().numpy(),
    }


def _forward(model, x: torch.Tensor, want_features: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    if not want_features:
        return model(x), None
    feats = model.forward_head(model.forward_features(x), pre_logits=True)
    logits = model.get_classifier()(feats) if hasattr(model, "get_classifier") else model.forward_head(feats)
    return logits, torch.nn.functional.normalize(feats.float().flatten(1), dim=1)


@dataclass
class Staging:
    """Where an unfinished round is built: predictions, embeddings and rejects, part by part."""

    predictions: Path
    embeddings: Path | None
    rejects: Path
    state: Path  # the options of the run that owns the staged parts (JSON)
    infer_id: str

    def parts(self) -> list[Path]:
        return sorted(self.predictions.glob("*.parquet"))


def _pending(ws: Workspace, o: InferOptions, st: Staging, scratch: Path) -> int:
    """Write the images still to predict to `scratch`, one row group per batch; the rows staged before."""
    order = ["unlabeled", *[s for s in ("val", "test", "train") if s in o.splits]]
    con = ws.connect()
    try:
        db.execute(con, query("infer/pool"), {"order": order})
        if db.scalar(con, query("infer/pool_size")) == 0:
            raise UsageError(f"no images in {', '.join(order)}: ingest an unlabeled pool first")
        staged_files = [storage.literal_path(p) for p in [*st.parts(), *st.rejects.glob("*.parquet")]]
        staged = 0
        db.execute(con, query("infer/staged"))
        if staged_files:
            db.execute(con, query("infer/staged_ids"), {"files": staged_files})
            staged = db.scalar(con, query("infer/staged_count"))
        db.execute(con, query("infer/rejected"), {"round": o.round, "infer_id": st.infer_id})
        rel = db.relation(con, query("infer/pending"))
        schema = pa.schema([("image_id", pa.string()), ("split", pa.string()), ("fs_path", pa.string())])
        scratch.parent.mkdir(parents=True, exist_ok=True)
        with pq.ParquetWriter(scratch, schema) as w:
            for chunk in storage.blocks(rel.to_arrow_reader(o.batch_size * 64), o.batch_size):
                paths = [str(ws.resolve_path(p)) for p in chunk.column("path").to_pylist()]
                w.write_table(
                    pa.table([chunk.column("image_id"), chunk.column("split"), pa.array(paths)], schema=schema),
                    row_group_size=o.batch_size,
                )
    finally:
        con.close()
    return staged


def _open_staging(ws: Workspace, o: InferOptions, ckpt_id: str) -> Staging:
    """The staging folders, reused when an interrupted run had the same options, else fresh."""
    wanted = {
        "checkpoint_id": ckpt_id,
        "splits": sorted(o.splits),
        "topk": o.topk,
        "store_probs": o.store_probs,
        "embeddings": o.embeddings,
        "temperature": o.temperature,
        "use_ema": o.use_ema,
        "batch_size": o.batch_size,
    }
    predictions = ws.staging_dir("predictions", o.round)
    state = predictions.with_name(predictions.name + ".json")
    folders = [predictions, ws.staging_dir("embeddings", o.round), ws.staging_dir("rejects", o.round)]
    if state.exists():
        saved = json.loads(state.read_text())
        if {k: saved.get(k) for k in wanted} == wanted:
            st = Staging(predictions, folders[1] if o.embeddings else None, folders[2], state, saved["infer_id"])
            # a kill inside a flush: drop the pieces whose predictions part was not written
            done = {p.name for p in st.parts()}
            for folder in folders[1:]:
                for p in folder.glob("*.parquet") if folder.exists() else []:
                    if p.name not in done:
                        p.unlink()
            return st
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    for folder in folders if o.embeddings else [folders[0], folders[2]]:
        folder.mkdir(parents=True)
    infer_id = uuid.uuid4().hex[:12]
    storage.write_text_atomic(state, json.dumps(dict(wanted, infer_id=infer_id)))
    return Staging(predictions, folders[1] if o.embeddings else None, folders[2], state, infer_id)


def _commit(ws: Workspace, o: InferOptions, st: Staging) -> None:
    # rejects first (file by file), then embeddings, then predictions: a committed predictions
    # round means the whole round is done
    for p in sorted(st.rejects.glob("*.parquet")):
        if storage.row_count([p]):
            os.replace(p, ws.table_dir("rejects") / p.name)
        else:
            p.unlink()
    pairs = [("embeddings", st.embeddings)] if st.embeddings else []
    pairs.append(("predictions", st.predictions))
    for name, folder in pairs:
        if not folder.exists():
            continue  # committed before a kill
        ws.commit_round(name, o.round, folder)
    st.state.unlink(missing_ok=True)
    shutil.rmtree(st.rejects, ignore_errors=True)


def infer(ws: Workspace, options: InferOptions, progress=NULL) -> InferResult:
    """Predict round R's rows with round R's teacher (un-noised: eval mode, EMA weights)."""
    started = time.perf_counter()
    o = options
    validate(o)
    if "unlabeled" not in o.splits:
        o = InferOptions(**{**asdict(o), "splits": ("unlabeled", *o.splits)})
    ckpt = checkpoints.find(ws, o.checkpoint, None if o.checkpoint else o.round)
    checkpoints.check_classes(ckpt, ws.class_names())
    done_dir = ws.round_dir("predictions", o.round)
    # a committed round always holds a part file (an empty one when there was nothing to predict);
    # a folder without any lost its files by hand and is predicted again
    if any(done_dir.glob("*.parquet")) and not o.overwrite:
        return InferResult(o.round, ckpt.checkpoint_id, 0, 0, 0, True, time.perf_counter() - started, 0.0,
                           _bytes(done_dir), _rows(done_dir))
    models.resolve_device(o.device)  # a bad --device fails before anything is written
    with ws.writing(f"plabel infer --round {o.round}"):
        st = _open_staging(ws, o, ckpt.checkpoint_id)
        scratch = ws.root / ".scratch" / f"infer-round{o.round}-{st.infer_id}.parquet"
        try:
            staged = _pending(ws, o, st, scratch)
            predicted, rejected, seconds = _predict(ws, o, ckpt, scratch, st, progress)
        finally:
            scratch.unlink(missing_ok=True)
        if not st.parts():  # nothing to predict at all: the round exists, empty
            empty = table("predictions").arrow_schema().empty_table()
            storage.write_arrow(empty, st.predictions / storage.part_name(), table("predictions"))
        _commit(ws, o, st)
    rate = predicted / seconds if seconds else 0.0
    return InferResult(o.round, ckpt.checkpoint_id, predicted, staged, rejected, False,
                       time.perf_counter() - started, rate, _bytes(done_dir), _rows(done_dir))


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
    rows: _Rows = field(default_factory=_Rows)
    embs: _Rows = field(default_factory=_Rows)
    bad_rows: _Rows = field(default_factory=_Rows)
    predicted: int = 0
    rejected: int = 0

    def batch(self, x: torch.Tensor, image_ids, splits, paths, reasons) -> None:
        bad = [i for i, r in enumerate(reasons) if r]
        if bad:
            self.bad_rows.add(image_id=[image_ids[i] for i in bad], split=[splits[i] for i in bad],
                              path=[self.ws.store_path(paths[i]) for i in bad], reason=[reasons[i] for i in bad])
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
            logits, feats = _forward(self.model, x, o.embeddings)
        _check_finite(logits, self.ckpt.checkpoint_id, ids[0])
        s = summarize(logits, o.temperature, o.topk)
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
            storage.write_arrow(_rejects_table(self.bad_rows.take(), o.round, st.infer_id), st.rejects / name,
                                table("rejects"))
        if st.embeddings is not None and self.embs.n:
            storage.write_arrow(_embeddings_table(self.embs.take(), ckpt_id), st.embeddings / name,
                                table("embeddings"))
        data = (_predictions_table(self.rows.take(), ckpt_id, o.temperature, o.store_probs == "full")
                if self.rows.n else table("predictions").arrow_schema().empty_table())
        storage.write_arrow(data, st.predictions / name, table("predictions"))


def _rejects_table(b: dict, round: int, infer_id: str) -> pa.Table:
    n = len(b["path"])
    return pa.table({
        "path": b["path"], "reason": b["reason"], "stage": ["infer"] * n, "split": b["split"],
        "image_id": b["image_id"], "round": [round] * n, "source_id": [infer_id] * n,
        "rejected_at": [datetime.now(timezone.utc)] * n,
    })


def _predict(ws, o: InferOptions, ckpt, scratch: Path, st: Staging, progress) -> tuple[int, int, float]:
    """Predict the pending images listed in `scratch`; (predicted, rejected, seconds)."""
    pending = pq.ParquetFile(scratch).metadata.num_rows
    if pending == 0:
        return 0, 0, 0.0
    device = models.resolve_device(o.device)
    model = checkpoints.build_model(ckpt, use_ema=o.use_ema, device=device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    dc = ckpt.data_config
    dataset = PendingImages(scratch, models.eval_transform(dc), dc.input_size[0], dc.input_size)
    workers = min(o.workers, pq.ParquetFile(scratch).num_row_groups)
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


def _bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.parquet")) if folder.exists() else 0


def _rows(folder: Path) -> int:
    return storage.row_count(folder.glob("*.parquet")) if folder.exists() else 0
