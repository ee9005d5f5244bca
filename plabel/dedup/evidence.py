"""What one signal found: candidate pairs with their similarities, before any threshold."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class HeldOut:
    """For each pool image, its most similar image of one other split."""

    split: str
    other_ids: list[str]
    best: np.ndarray  # (n,) index into other_ids, -1 where none
    similarity: np.ndarray  # (n,)


@dataclass
class Evidence:
    signal: str
    pairs: np.ndarray  # (m, 2) pool indices i < j
    similarity: np.ndarray  # (m,) of each pair
    nearest: np.ndarray  # (n,) each pool image's similarity to its nearest other pool image
    positives: np.ndarray  # similarities of synthetic copies to their originals
    held_out: list[HeldOut] = field(default_factory=list)
    checkpoint_id: str | None = None
    colour_tolerance: float | None = None  # pixels: chromaticity distance beyond which no pair is a copy

    def held_out_nearest(self, splits: tuple[str, ...]) -> np.ndarray:
        """Each pool image's similarity to its nearest image of `splits` (the contamination negatives)."""
        rows = [h.similarity for h in self.held_out if h.split in splits]
        return np.max(np.stack(rows), axis=0) if rows else np.zeros(0)


def pool_pairs(sims: np.ndarray, nbrs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k neighbour lists of a pool against itself -> unique pairs, their similarity, nearest."""
    n, k = nbrs.shape
    rows = np.repeat(np.arange(n), k)
    cols, vals = nbrs.reshape(-1), sims.reshape(-1).astype(np.float64)
    keep = (cols >= 0) & (cols != rows)
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    nearest = np.full(n, -1.0)
    np.maximum.at(nearest, rows, vals)
    pairs = np.stack([np.minimum(rows, cols), np.maximum(rows, cols)], axis=1)
    order = np.lexsort((-vals, pairs[:, 1], pairs[:, 0]))
    pairs, vals = pairs[order], vals[order]
    first = np.ones(len(pairs), bool)
    first[1:] = np.any(pairs[1:] != pairs[:-1], axis=1)  # a pair found from both ends: keep the higher
    return pairs[first], vals[first], nearest


@dataclass
class Pool:
    """The unlabeled images of round R's predictions: what dedup searches and selection reads."""

    ids: list[str]
    confidence: np.ndarray
    class_id: np.ndarray
    paths: list[str]

    def index(self, image_id: str) -> int:
        if not hasattr(self, "_at"):
            self._at = {x: k for k, x in enumerate(self.ids)}
        return self._at[image_id]

    def sample(self, n: int, seed: int) -> np.ndarray:
        """Up to n pool indices, the same for the same pool and seed."""
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(len(self.ids), min(n, len(self.ids)), replace=False))
