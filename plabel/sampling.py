"""Which rows each training step draws: labeled and pseudo rows from separate streams.

A row with `copies = c` appears c times in every pass over its stream, in a seeded random order,
without duplicating any row in memory (only the index array repeats). Each epoch's order is a
function of (seed, epoch) alone, so a run resumed at an epoch boundary draws exactly what the
uninterrupted run drew.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


def _stream(copies: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """`length` row indices: passes over the rows (each row `copies` times), each pass shuffled."""
    if length == 0:
        return np.empty(0, np.int64)
    pool = np.repeat(np.arange(len(copies), dtype=np.int64), copies)
    if len(pool) == 0:
        raise ValueError("every row has copies = 0")
    passes = [rng.permutation(pool) for _ in range(math.ceil(length / len(pool)))]
    return np.concatenate(passes)[:length]


@dataclass(frozen=True)
class MixedPlan:
    """Batches of one epoch: `lab_bs` labeled rows then `unl_bs` pseudo rows in every batch."""

    lab_copies: np.ndarray
    unl_copies: np.ndarray
    lab_bs: int
    unl_bs: int

    @property
    def steps(self) -> int:
        lab = math.ceil(int(self.lab_copies.sum()) / self.lab_bs) if self.lab_bs else 0
        unl = math.ceil(int(self.unl_copies.sum()) / self.unl_bs) if self.unl_bs and len(self.unl_copies) else 0
        return max(lab, unl, 1)

    def batches(self, seed: int, epoch: int) -> list[np.ndarray]:
        """Row indices per step; pseudo rows are offset by the number of labeled rows."""
        rng = np.random.default_rng([seed, epoch])
        steps = self.steps
        lab = _stream(self.lab_copies, steps * self.lab_bs, rng).reshape(steps, self.lab_bs)
        unl_bs = self.unl_bs if len(self.unl_copies) else 0
        unl = _stream(self.unl_copies, steps * unl_bs, rng).reshape(steps, unl_bs) + len(self.lab_copies)
        return [np.concatenate([a, b]) for a, b in zip(lab, unl, strict=True)]


def mixed_plan(copies: np.ndarray, pseudo: np.ndarray, batch_size: int,
               unlabeled_ratio: float) -> tuple[MixedPlan, np.ndarray]:
    """The draw plan of a manifest (each row's copies, whether it is pseudo) and the row order it
    indexes: labeled rows first, then pseudo. A stream is drawn from when some of its rows have
    copies > 0 (rows with copies = 0 are never drawn)."""
    order = np.concatenate([np.flatnonzero(~pseudo), np.flatnonzero(pseudo)])
    n_lab = int((~pseudo).sum())
    has_lab, has_unl = copies[~pseudo].sum() > 0, copies[pseudo].sum() > 0
    lab_bs = batch_size if has_lab else 0
    unl_bs = (max(1, round(unlabeled_ratio * batch_size)) if has_lab else batch_size) if has_unl else 0
    return MixedPlan(copies[order[:n_lab]], copies[order[n_lab:]], lab_bs, unl_bs), order


def rank_share(batch: list[Any], lab_bs: int, rank: int, world: int) -> tuple[list[Any], int]:
    """This rank's draws of one global batch, and how many of them are labeled.

    The labeled draws (the first lab_bs) and the pseudo ones are each cut into `world` nearly
    equal contiguous parts, and rank r takes part r of both: over the ranks, a step draws the
    global batch exactly once, so a pass draws each row its number of copies in total (not per
    rank), and `--batch-size` keeps its meaning as the global batch.
    """
    if world == 1:
        return batch, lab_bs
    lab = np.array_split(np.arange(lab_bs), world)[rank]
    unl = np.array_split(np.arange(lab_bs, len(batch)), world)[rank]
    return [batch[i] for i in (*lab, *unl)], len(lab)
