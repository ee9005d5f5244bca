"""The prepared GPU check: plabel's train and infer throughput against the bare model, on CUDA.

On synthetic JPEG files (distinct images, 256 px, JPEG quality 90) and resnet50 at 224 px with
bfloat16 autocast and channels-last:

- bare_forward: the model's forward pass alone on pre-decoded tensors already on the GPU;
- bare_train: forward, backward and an SGD step on pre-decoded tensors;
- decode_cpu: decoding and resizing alone (plabel's loader, DataLoader workers, no model);
- decode_gpu (--gpu-decode): torchvision.io.decode_jpeg(device="cuda") on batches of file bytes;
- plabel_infer: `plabel infer` end to end (files -> Parquet predictions);
- plabel_train: `plabel train`'s images/s over one epoch (files -> optimizer steps).

The ratios say where the time goes: plabel_infer / bare_forward near 1 means the model limits;
near decode_cpu / bare_forward means JPEG decoding on the CPU does. One JSON line per figure.

    python benchmarks/gpu_check.py [--images 4096] [--workers 12] [--gpu-decode]
    python benchmarks/gpu_check.py --smoke        # a tiny CPU run: the script's own check
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def say(name: str, **fields) -> None:
    print(json.dumps({"check": name, **fields}), flush=True)


def write_jpegs(folder: Path, n: int, side: int, classes: int, seed: int = 0) -> list[Path]:
    """n distinct JPEGs in class folders: smooth random colour fields with noise (photo-like entropy)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    files = []
    for i in range(n):
        c = i % classes
        (folder / f"c{c}").mkdir(parents=True, exist_ok=True)
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        im = Image.fromarray(small).resize((side, side), Image.BICUBIC)
        arr = np.clip(np.asarray(im, np.int16) + rng.integers(-12, 13, (side, side, 3)), 0, 255).astype(np.uint8)
        path = folder / f"c{c}" / f"{i:06d}.jpg"
        Image.fromarray(arr).save(path, quality=90)
        files.append(path)
    return files


def timed(fn, warmup: int, reps: int, sync) -> float:
    for _ in range(warmup):
        fn()
    sync()
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    sync()
    return (time.perf_counter() - start) / reps


def bare(model_name: str, size: int, batch: int, device, reps: int) -> tuple[float, float]:
    """(forward images/s, train-step images/s) on pre-decoded tensors on the device."""
    import timm
    import torch

    model = timm.create_model(model_name, num_classes=1000).to(device).to(memory_format=torch.channels_last)
    x = torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch,), device=device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    amp = dict(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def forward():
        with torch.inference_mode(), torch.autocast(**amp):
            model(x)

    def step():
        with torch.autocast(**amp):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.eval()
    f = timed(forward, 3, reps, sync)
    model.train()
    t = timed(step, 3, reps, sync)
    return batch / f, batch / t


def decode_cpu(files: list[Path], size: int, workers: int, batch: int) -> float:
    """Decoding and resizing alone, with plabel's loader and eval transform."""
    from torch.utils.data import DataLoader

    from plabel import models
    from plabel.loading import ImageFiles, to_bytes_array

    dc = models.DataConfig(input_size=(3, size, size), interpolation="bilinear", mean=(0.485, 0.456, 0.406),
                           std=(0.229, 0.224, 0.225), crop_pct=0.875, crop_mode="center")
    data = ImageFiles(to_bytes_array([str(f) for f in files]), models.eval_transform(dc), 3, dc.input_size)
    start = time.perf_counter()
    n = sum(len(b[1]) for b in DataLoader(data, batch_size=batch, num_workers=workers))
    return n / (time.perf_counter() - start)


def decode_gpu(files: list[Path], size: int, batch: int) -> float:
    """torchvision's nvJPEG decode of file bytes on the GPU, then a GPU resize."""
    import torch
    import torchvision
    from torchvision.io import decode_jpeg

    datas = [torchvision.io.read_file(str(f)) for f in files]
    torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(0, len(datas), batch):
        images = decode_jpeg(datas[i:i + batch], device="cuda")
        torch.nn.functional.interpolate(torch.stack(images).float(), size=(size, size), mode="bilinear")
    torch.cuda.synchronize()
    return len(datas) / (time.perf_counter() - start)


def plabel_steps(root: Path, model_name: str, size: int, workers: int, batch: int,
                 device: str) -> tuple[float, float]:
    """(infer images/s, train images/s) of plabel itself on the JPEG files."""
    from plabel.infer import InferOptions, infer
    from plabel.ingest import IngestOptions, ingest
    from plabel.train import TrainOptions, train
    from plabel.workspace import init_workspace

    ws = init_workspace(root / "ws")
    ingest(ws, IngestOptions(source=root / "labeled", split="train", workers=workers))
    ingest(ws, IngestOptions(source=root / "pool", split="unlabeled", workers=workers))
    r = train(ws, TrainOptions(round=0, model=model_name, img_size=size, epochs=1, batch_size=batch,
                               workers=workers, device=device, hflip=0.5, crop_scale=0.08, warmup_epochs=0.1))
    res = infer(ws, InferOptions(round=0, workers=workers, batch_size=batch * 2, device=device))
    return res.images_per_s, r.history[-1]["images_per_s"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=4096)
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--workers", type=int, default=min(12, os.cpu_count() or 2))
    ap.add_argument("--gpu-decode", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="a tiny CPU run (test_resnet, 32 px, 64 images)")
    a = ap.parse_args()
    import torch

    if a.smoke:
        a.images, a.model, a.size, a.batch, a.workers = 64, "test_resnet", 32, 16, 0
    elif not torch.cuda.is_available():
        say("gpu_check", cuda=False, note="no CUDA device: nothing measured (try --smoke for the CPU check)")
        return
    device = torch.device("cuda" if torch.cuda.is_available() and not a.smoke else "cpu")
    say("machine", device=torch.cuda.get_device_name() if device.type == "cuda" else "cpu", torch=torch.__version__,
        cpus=os.cpu_count(), model=a.model, size=a.size, batch=a.batch, images=a.images, workers=a.workers)
    fwd, step = bare(a.model, a.size, a.batch, device, reps=3 if a.smoke else 20)
    say("bare", forward_per_s=round(fwd, 1), train_per_s=round(step, 1))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        side = 256 if not a.smoke else 48
        files = write_jpegs(tmp / "pool", a.images, side, 10)
        write_jpegs(tmp / "labeled", a.images, side, 10, seed=1)  # train one epoch on as many labeled files
        say("files", written=len(files), seconds=round(time.perf_counter() - started, 1),
            bytes_per_file=int(np.mean([f.stat().st_size for f in files])))
        dec = decode_cpu(files, a.size, a.workers, a.batch)
        say("decode_cpu", per_s=round(dec, 1), over_bare_forward=round(dec / fwd, 3))
        if a.gpu_decode and device.type == "cuda":
            gdec = decode_gpu(files, a.size, a.batch)
            say("decode_gpu", per_s=round(gdec, 1), over_decode_cpu=round(gdec / dec, 2))
        inf, tr = plabel_steps(tmp, a.model, a.size, a.workers, a.batch, device.type)
    say("plabel", infer_per_s=round(inf, 1), train_per_s=round(tr, 1), infer_over_bare_forward=round(inf / fwd, 3),
        train_over_bare_train=round(tr / step, 3),
        limited_by="decoding" if dec < 0.9 * fwd and inf < 0.9 * fwd else "the model")


if __name__ == "__main__":
    sys.exit(main())
