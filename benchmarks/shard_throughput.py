"""Tar shards against loose files, in the same run: ingest and infer images/s, and opening a
workspace whose images table holds 1M shard members.

The same PNGs are written as loose files (1,000 per folder) and as WebDataset shards (1,000 per
tar). Each is ingested into its own workspace (2 worker processes), a test_resnet teacher is
trained on the same 200 labeled loose files in both, and `infer` predicts the pool (2 DataLoader
workers). The page cache is warm for both: each side's files are read once before timing.

The open cost: an images table of 1M rows (written directly, as ingest writes them) whose rows are
shard members, against one whose rows are loose files: the time to open the workspace, connect
(DuckDB views over the Parquet files) and count the pool, and to list it for inference.

Targets: shards at least as fast as loose files (ratio >= 1.0), faster on ingest.

    python benchmarks/shard_throughput.py [--images 8000] [--size 32] [--rows 1000000]
"""
from __future__ import annotations

import argparse
import io
import sys
import tarfile
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, report, timer  # noqa: E402

PER = 1000


def make_images(root: Path, n: int, size: int) -> None:
    """n PNGs as loose files under root/loose and the same bytes as shards under root/shards."""
    rng = np.random.default_rng(0)
    (root / "shards").mkdir(parents=True)
    tar = None
    for i in range(n):
        if i % PER == 0:
            if tar is not None:
                tar.close()
            tar = tarfile.open(root / "shards" / f"pool-{i // PER:06d}.tar", "w")  # noqa: SIM115
        base = rng.integers(0, 256, (size // 4, size // 4, 3), dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(base).resize((size, size), Image.BILINEAR).save(buf, "PNG")
        data = buf.getvalue()
        sub = root / "loose" / f"{i // PER:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{i:06d}.png").write_bytes(data)
        info = tarfile.TarInfo(f"{i // PER:03d}/{i:06d}.png")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    if tar is not None:
        tar.close()


def warm(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            p.read_bytes()


def labeled(root: Path, size: int) -> Path:
    rng = np.random.default_rng(1)
    for c in ("a", "b"):
        (root / "train" / c).mkdir(parents=True)
        for i in range(100):
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / "train" / c / f"{i}.png")
    return root / "train"


def side(root: Path, kind: str, source: Path, train_dir: Path, size: int):
    """(workspace, ingest images/s): the pool ingested, a teacher trained on the labeled files."""
    from plabel.ingest import IngestOptions, ingest
    from plabel.train import TrainOptions, train
    from plabel.workspace import init_workspace

    ws = init_workspace(root / f"ws-{kind}")
    warm(source)
    with timer() as t_ingest:
        r = ingest(ws, IngestOptions(source=source, split="unlabeled", workers=2))
    ingest(ws, IngestOptions(source=train_dir, split="train", workers=1))
    train(ws, TrainOptions(round=0, epochs=1, model="test_resnet", img_size=size, batch_size=32, workers=0))
    return ws, r.added / t_ingest["seconds"]


def infer_rate(ws) -> float:
    from plabel.infer import InferOptions, infer

    with timer() as t:
        p = infer(ws, InferOptions(round=0, splits=("unlabeled",), workers=2, batch_size=256, embeddings=False,
                                   overwrite=True))
    return p.predicted / t["seconds"]


def open_cost(root: Path, rows: int, shards: bool) -> dict:
    from plabel import storage
    from plabel.schema import table
    from plabel.workspace import init_workspace, open_workspace

    ws = init_workspace(root / f"open-{shards}")
    ids = [f"{i:032x}" for i in range(rows)]
    now = datetime.now(timezone.utc)
    cols = {"image_id": ids, "split": ["unlabeled"] * rows,
            "path": [f"shards/pool-{i // PER:06d}.tar#{i:09d}.jpg" if shards else f"loose/{i // PER:06d}/{i:09d}.jpg"
                     for i in range(rows)],
            "width": [32] * rows, "height": [32] * rows, "mode": ["RGB"] * rows, "format": ["JPEG"] * rows,
            "bytes": [900] * rows, "ingest_id": ["bench"] * rows, "ingested_at": [now] * rows,
            "shard": [f"shards/pool-{i // PER:06d}.tar" for i in range(rows)] if shards else [None] * rows,
            "member_offset": [512 + (i % PER) * 1536 for i in range(rows)] if shards else [None] * rows}
    schema = table("images")
    storage.write_arrow(_conform(cols, schema), ws.table_dir("images") / storage.part_name(), schema)
    with timer() as t_open:
        ws2 = open_workspace(ws.root)
        n = ws2.rows("SELECT count(*) FROM images WHERE split = 'unlabeled'")[0][0]
    with timer() as t_list:
        listed = ws2.rows("SELECT count(*), sum(length(path)) FROM images WHERE split = 'unlabeled'")[0][0]
    assert n == listed == rows
    return {"open_s": t_open["seconds"], "list_s": t_list["seconds"]}


def _conform(cols: dict, schema):
    import pyarrow as pa

    target = schema.arrow_schema()
    return pa.table({f.name: pa.array(cols.get(f.name, [None] * len(cols["image_id"])), f.type) for f in target},
                    schema=target)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=8000)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3, help="infer runs per side, alternated (the best counts)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_images(root, args.images, args.size)
        train_dir = labeled(root, args.size)
        loose_ws, loose_ingest = side(root, "loose", root / "loose", train_dir, args.size)
        tars_ws, tars_ingest = side(root, "shards", root / "shards", train_dir, args.size)
        rates: dict[str, list[float]] = {"loose": [], "shards": []}
        for _ in range(args.repeats):  # alternated, best of each: one run is at the mercy of the machine
            rates["loose"].append(infer_rate(loose_ws))
            rates["shards"].append(infer_rate(tars_ws))
        measured = {"ingest": (loose_ingest, tars_ingest), "infer": (max(rates["loose"]), max(rates["shards"]))}
        for step, (lo, sh) in measured.items():
            report("shard_throughput", step=step, images=args.images, size=args.size, machine=machine(),
                   loose_per_s=round(lo, 1), shards_per_s=round(sh, 1), ratio=round(sh / lo, 3))
        a, b = open_cost(root, args.rows, False), open_cost(root, args.rows, True)
        report("shard_open", rows=args.rows, loose_open_s=round(a["open_s"], 3), shards_open_s=round(b["open_s"], 3),
               loose_list_s=round(a["list_s"], 3), shards_list_s=round(b["list_s"], 3),
               ratio=round(a["open_s"] / b["open_s"], 3))


if __name__ == "__main__":
    main()
