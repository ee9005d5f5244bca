"""Images/s of `plabel infer` and `plabel train` in one process and under torchrun, same run.

Three launches of the same command on copies of one workspace: (a) `python -m plabel` (today's
single-process path), (b) `torchrun --nproc-per-node 1 -m plabel` (the distributed path at world
size 1), (c) `torchrun --nproc-per-node 2` (two ranks, gloo on the CPU). Rates are the commands'
own: infer's images/s over its prediction loop, train's images/s over its epochs (startup,
process-group rendezvous and imports excluded; the wall clock of each launch is printed too).
Target: (b) >= 0.95 x (a), the overhead of the distributed path at world size 1. On a 2-core
machine (c) cannot gain much: the point is correctness and overhead.

    python benchmarks/ddp_scaling.py [--images 4000] [--model resnet18 --img-size 64]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, report  # noqa: E402

LAUNCHERS = {
    "one_process": [sys.executable, "-m", "plabel"],
    "torchrun_1": [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "1",
                   "-m", "plabel"],
    "torchrun_2": [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                   "-m", "plabel"],
}


def launch(launcher: str, args: list[str]) -> tuple[dict, float]:
    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, (os.cpu_count() or 2) // (2 if launcher == "torchrun_2" else 1))))
    start = time.perf_counter()
    r = subprocess.run([*LAUNCHERS[launcher], *args, "--json"], capture_output=True, text=True, env=env)
    if r.returncode:
        raise SystemExit(f"{launcher} {' '.join(args)} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout), time.perf_counter() - start


def workspace(tmp: Path, images: int, model: str, size: int) -> Path:
    from plabel.datasets import load_mnist, write_split_folders
    from plabel.ingest import IngestOptions, ingest
    from plabel.train import TrainOptions, train
    from plabel.workspace import init_workspace

    x, y = load_mnist()
    folders = write_split_folders(tmp / "data", x, y, labeled_per_class=min(100, images // 20), test_per_class=0,
                                  unlabeled_per_class=images // 10)
    ws = init_workspace(tmp / "ws")
    ingest(ws, IngestOptions(source=folders.train, split="train"))
    ingest(ws, IngestOptions(source=folders.unlabeled, split="unlabeled"))
    train(ws, TrainOptions(round=0, model=model, img_size=size, epochs=1, workers=0, hflip=0.0, crop_scale=0.5))
    return ws.root


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=4000)
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--img-size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = workspace(Path(tmp), args.images, args.model, args.img_size)
        rates: dict[str, dict] = {}
        for launcher in LAUNCHERS:
            ws = shutil.copytree(base, Path(tmp) / launcher)
            out, wall = launch(launcher, ["infer", "--round", "0", "--workers", "0", "--batch-size", "128", "-w",
                                          str(ws)])
            rates.setdefault("infer", {})[launcher] = (out["images_per_s"], wall)
            # a second teacher with another seed: a run of its own on every launcher
            out, wall = launch(launcher, ["train", "--round", "0", "--model", args.model, "--img-size",
                                          str(args.img_size), "--epochs", str(args.epochs), "--seed", "1",
                                          "--workers", "0", "--batch-size", "64", "--hflip", "0", "--crop-scale",
                                          "0.5", "-w", str(ws)])
            rates.setdefault("train", {})[launcher] = (out["history"][-1]["images_per_s"], wall)
        for step, by in rates.items():
            a, b, c = (by[k][0] for k in LAUNCHERS)
            report("ddp_scaling", machine=machine(), step=step, model=args.model, img_size=args.img_size,
                   images=args.images, one_process_per_s=round(a, 1), torchrun_1_per_s=round(b, 1),
                   torchrun_2_per_s=round(c, 1), world1_over_one_process=round(b / a, 3),
                   world2_over_one_process=round(c / a, 3),
                   wall_s={k: round(v[1], 1) for k, v in by.items()}, target={"world1_over_one_process": 0.95})


if __name__ == "__main__":
    main()
