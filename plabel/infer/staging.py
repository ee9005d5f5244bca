"""A round built in staging folders: the pending images, resuming, the commit."""
from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from plabel import db, storage
from plabel.errors import UsageError
from plabel.infer.options import InferOptions
from plabel.queries import query
from plabel.workspace import Workspace

SOURCE_COLUMNS = ("path", "shard", "member_offset", "bytes")  # what Workspace.sources reads


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


def write_pending(ws: Workspace, o: InferOptions, st: Staging, scratch: Path) -> int:
    """Write the images still to predict to `scratch`, one row group per batch; the rows staged before."""
    order = ["unlabeled", *[s for s in ("val", "test", "train") if s in o.splits]]
    with ws.connect() as con:
        db.execute(con, query("images/first_rows"))
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
        schema = pa.schema([("image_id", pa.string()), ("split", pa.string()), ("path", pa.string()),
                            ("fs_path", pa.string())])
        scratch.parent.mkdir(parents=True, exist_ok=True)
        with pq.ParquetWriter(scratch, schema) as w:
            for chunk in storage.blocks(rel.to_arrow_reader(o.batch_size * 64), o.batch_size):
                paths = ws.sources(*(chunk.column(c).to_pylist() for c in SOURCE_COLUMNS))
                w.write_table(
                    pa.table([chunk.column("image_id"), chunk.column("split"), chunk.column("path"), pa.array(paths)],
                             schema=schema),
                    row_group_size=o.batch_size,
                )
    return staged


def open_staging(ws: Workspace, o: InferOptions, ckpt_id: str) -> Staging:
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


def commit(ws: Workspace, o: InferOptions, st: Staging) -> None:
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
