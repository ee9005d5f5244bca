"""Datasets over image files: what the trainer, inference and evaluation feed to DataLoaders.

File paths are kept in numpy byte arrays, not Python lists, so that forked DataLoader workers
do not copy them page by page through reference counting.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from plabel.images import RejectedImage, load_rgb


def to_bytes_array(paths: list[str]) -> np.ndarray:
    return np.array([p.encode() for p in paths]) if paths else np.array([], dtype="S1")


def load_image(path: str, in_chans: int) -> Image.Image:
    """An image file as the model takes it: RGB, or grayscale for a 1-channel model."""
    im = load_rgb(path)
    return im.convert("L") if in_chans == 1 else im


class ImageFiles(Dataset[Any]):
    """Images by index, un-augmented (or with any deterministic transform).

    Items are (tensor, index, reason); a file that cannot be read gives its reason and a zero
    tensor, so that the caller can record it and go on.
    """

    def __init__(self, files: np.ndarray, transform: Callable[[Any], Any], in_chans: int,
                 input_size: tuple[int, int, int]) -> None:
        self.files, self.transform, self.in_chans, self.input_size = files, transform, in_chans, input_size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, str]:
        path = self.files[i].decode()
        try:
            return self.transform(load_image(path, self.in_chans)), i, ""
        except RejectedImage as e:
            return torch.zeros(self.input_size), i, f"{e}"


class TrainImages(Dataset[Any]):
    """Training images, addressed by (row, sample seed) pairs from the batch sampler.

    The random augmentation of a draw is seeded by its sample seed alone, so it does not depend
    on which DataLoader worker happens to decode it: the same seed gives the same run with any
    number of workers, and a run resumed at an epoch boundary repeats the original exactly.
    """

    def __init__(self, files: np.ndarray, transform: Callable[[Any], Any], in_chans: int,
                 input_size: tuple[int, int, int]) -> None:
        self.files, self.transform, self.in_chans, self.input_size = files, transform, in_chans, input_size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, int, str]:
        """(tensor, row, reason): reason is "" for a good image, else why it could not be read."""
        row, seed = key
        try:
            image = load_image(self.files[row].decode(), self.in_chans)
        except RejectedImage as e:
            return torch.zeros(self.input_size), row, str(e)
        random.seed(seed)
        np.random.seed(seed % (2**32))
        cpu = torch.default_generator  # torch.manual_seed would also seed accelerators: 50x slower
        saved = cpu.get_state()
        try:
            cpu.manual_seed(seed)
            return self.transform(image), row, ""
        finally:
            cpu.set_state(saved)


def seeded_batches(batches: list[np.ndarray], seed: int, epoch: int) -> list[list[tuple[int, int]]]:
    """Attach a distinct sample seed to every draw of an epoch."""
    base = np.random.default_rng([seed, epoch, 7]).integers(0, 2**62)
    out, k = [], 0
    for b in batches:
        out.append([(int(r), int(base + k + j)) for j, r in enumerate(b)])
        k += len(b)
    return out
