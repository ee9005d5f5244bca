"""What one signal found: candidate pairs with their similarities, before any threshold."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


@dataclass
class HeldOut:
    """For each pool image, its most similar image of one other split."""

    split: str
    other_ids: list[str]
    best: np.ndarray  # (n,) index into other_ids, -1 where none
    similarity: np.ndarray  # (n,)
    second: np.ndarray | None = None  # (n,) similarity to the second most similar (-1 where none)


@dataclass
class Evidence:
    signal: str
    pairs: np.ndarray  # (m, 2) pool indices i < j
    similarity: np.ndarray  # (m,) of each pair
    nearest: np.ndarray  # (n,) each pool image's similarity to its nearest other pool image
    positives: np.ndarray  # similarities of synthetic copies to their originals
    second: np.ndarray | None = None  # (n,) each pool image's similarity to its second-nearest (pixels)
    held_out: list[HeldOut] = field(default_factory=list)
    # the labeled train images (their ids) against each val/test split: contamination of the teacher
    labeled_ids: list[str] = field(default_factory=list)
    labeled: list[HeldOut] = field(default_factory=list)
    checkpoint_id: str | None = None
    colour_tolerance: float | None = None  # pixels: chromaticity distance beyond which no pair is a copy
    brightness_tolerance: float | None = None  # pixels: the same for brightness (absolute log ratio)

    def held_out_nearest(self, splits: tuple[str, ...]) -> np.ndarray:
        """Each pool image's similarity to its nearest image of `splits` (the contamination negatives)."""
        rows = [h.similarity for h in self.held_out if h.split in splits]
        return np.max(np.stack(rows), axis=0) if rows else np.zeros(0)

    def held_out_two(self, splits: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Each pool image's similarities to its nearest and second-nearest image of `splits`."""
        rows = [r for h in self.held_out if h.split in splits
                for r in (h.similarity, h.second if h.second is not None else np.full(len(h.similarity), -1.0))]
        if not rows:
            return np.zeros(0), np.zeros(0)
        top = -np.sort(-np.stack(rows), axis=0)
        return top[0], top[1]


def top_two(sims: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the highest and the second-highest value (-1 where there is none)."""
    n, k = sims.shape
    if k == 0:
        return np.full(n, -1.0), np.full(n, -1.0)
    ordered = -np.sort(-sims, axis=1)
    return ordered[:, 0].astype(np.float64), (ordered[:, 1] if k > 1 else np.full(n, -1.0)).astype(np.float64)


def pool_pairs(sims: np.ndarray, nbrs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k neighbour lists of a pool against itself -> pairs (i < j), their similarity, and each
    image's similarity to its nearest other image. A pair found from both ends is listed twice:
    grouping and thresholds do not mind, and a sort of 10^7 pairs to drop it would cost more."""
    n, k = nbrs.shape
    rows = np.repeat(np.arange(n), k).reshape(n, k)
    keep = (nbrs >= 0) & (nbrs != rows)
    nearest = top_two(np.where(keep, sims, -1.0))[0] if k else np.full(n, -1.0)
    r, c = rows[keep], nbrs[keep]
    pairs = np.stack([np.minimum(r, c), np.maximum(r, c)], axis=1)
    return pairs, sims[keep].astype(np.float64), nearest


@dataclass
class Pool:
    """The unlabeled images of round R's predictions: what dedup searches and selection reads."""

    ids: list[str]
    confidence: np.ndarray
    class_id: np.ndarray
    paths: list[str]  # what a reader opens (Workspace.sources)

    @cached_property
    def position(self) -> dict[str, int]:
        """Each image id's index in the pool."""
        return {x: k for k, x in enumerate(self.ids)}

    def sample(self, n: int, seed: int) -> np.ndarray:
        """Up to n pool indices, the same for the same pool and seed."""
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(len(self.ids), min(n, len(self.ids)), replace=False))
