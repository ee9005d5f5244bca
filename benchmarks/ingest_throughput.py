"""Ingest throughput: `plabel ingest` against a plain single-process loop, in the same run.

The baseline does the same per-file work as plabel (read the bytes, SHA-256 them, open and fully
decode with Pillow) in one process; plabel adds the Parquet writing, the DuckDB bookkeeping and
its worker processes (their start-up is timed). Both sides are warmed first: the baseline reads
the files once (page cache), plabel ingests 10 other files (one-time imports: pyarrow's first
array built from Python objects imports pandas, 0.2 s). Target: plabel at least 1.5x the
baseline on 2 cores.

The image size decides how much of the per-file work is decoding: 32 px is MNIST-like (decoding
is ~30 us, so per-file bookkeeping weighs most), 128 px is closer to a thumbnail photo.

    python benchmarks/ingest_throughput.py [--files 20000] [--sizes 32,128]
"""
from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, report, timer  # noqa: E402


def make_pngs(folder: Path, n: int, size: int) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        sub = folder / f"{i // 1000:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        # smooth noise compresses like a small photo, not like white noise
        base = rng.integers(0, 256, (size // 4, size // 4, 3), dtype=np.uint8)
        Image.fromarray(base).resize((size, size), Image.BILINEAR).save(sub / f"{i:06d}.png")


def baseline(folder: Path) -> int:
    n = 0
    for dirpath, _, files in os.walk(folder):
        for name in sorted(files):
            data = Path(dirpath, name).read_bytes()
            hashlib.sha256(data).hexdigest()
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                _ = (im.size, im.mode, im.format)  # what ingest reads of each image
            n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--sizes", default="32,128")
    args = ap.parse_args()

    from plabel.ingest import IngestOptions, ingest
    from plabel.workspace import init_workspace

    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm"
        make_pngs(warm, 10, 16)
        ingest(init_workspace(Path(tmp) / "warm_ws"), IngestOptions(source=warm, split="unlabeled"))
        for size in [int(s) for s in args.sizes.split(",")]:
            data = Path(tmp) / f"pool{size}"
            make_pngs(data, args.files, size)
            baseline(data)  # warm the page cache for both contenders
            with timer() as t_base:
                n = baseline(data)
            ws = init_workspace(Path(tmp) / f"ws{size}")
            with timer() as t_plabel:
                r = ingest(ws, IngestOptions(source=data, split="unlabeled"))
            assert r.added == n == args.files, (r.added, n)
            base_rate = n / t_base["seconds"]
            plabel_rate = n / t_plabel["seconds"]
            report(
                "ingest_throughput", machine=machine(), files=n, size=size,
                baseline_files_per_s=round(base_rate), plabel_files_per_s=round(plabel_rate),
                ratio=round(plabel_rate / base_rate, 2), target=1.5,
            )


if __name__ == "__main__":
    main()
