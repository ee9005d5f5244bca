"""Per-class balancing walked on the confidence histogram: topk's boundary bins, copies' cutoffs, auto N."""
from __future__ import annotations

import statistics


def auto_per_class(pool: list[int]) -> int:
    """--per-class auto: the median over classes that have pool images (0 when none have): their
    counts before the threshold, after duplicates and contamination are removed."""
    counts = [n for n in pool if n > 0]
    return int(statistics.median(counts)) if counts else 0


def _by_class(histogram: list[tuple[int, int, int]]) -> dict[int, dict[int, int]]:
    by_class: dict[int, dict[int, int]] = {}
    for class_id, b, n in histogram:
        by_class.setdefault(class_id, {})[b] = n
    return by_class


def boundaries(histogram: list[tuple[int, int, int]], per_class: int) -> list[tuple[int, int, int, int]]:
    """topk's pre-filter: per class (boundary, rows above it, eligible rows). The boundary is the
    highest bin at which the count from the top reaches N (-1, the threshold's bin, for a class
    with fewer than N rows); rows below it cannot be among the N most confident."""
    out = []
    for class_id, bins in sorted(_by_class(histogram).items()):
        total, above, boundary = sum(bins.values()), 0, -1
        for b in sorted(bins, reverse=True):
            if above + bins[b] >= per_class:
                boundary = b
                break
            above += bins[b]
        else:
            above = 0  # fewer than N: all rows are ranked
        out.append((class_id, boundary, above, total))
    return out


def cutoffs(histogram: list[tuple[int, int, int]], per_class: int,
            thresholds: dict[int, float]) -> list[tuple[int, float, int]]:
    """The copies mode's walk: per class (cutoff, images at or above it), from (class, bin, n).

    Bins are walked from the top (1.00) down; the walk stops at the first bin where the count
    reaches N, and never goes below the class's threshold (bin -1).
    """
    import numpy as np

    out = []
    for class_id, bins in sorted(_by_class(histogram).items()):
        total = 0
        cutoff = float(np.float32(thresholds[class_id]))
        for b in sorted(bins, reverse=True):
            total += bins[b]
            if total >= per_class and b >= 0:
                cutoff = float(np.float32(b / 100))
                break
        else:
            total = sum(bins.values())
        out.append((class_id, cutoff, total))
    return out
