"""What searching rotations costs: the aligned verification of candidate pairs with the rotations of
plabel.fingerprints.ANGLES against the same without them, in one run.

    python benchmarks/rotation_cost.py [--queries 1024] [--candidates 16] [--repeat 3]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, report  # noqa: E402


def _seconds(thumbs: np.ndarray, candidates: np.ndarray, repeat: int) -> float:
    from plabel import fingerprints

    centres = fingerprints.centre(thumbs)
    fingerprints.verify(thumbs[:64], centres, candidates[:64])  # operators built once, outside the timing
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fingerprints.verify(thumbs, centres, candidates)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    from plabel import fingerprints

    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=1024)
    ap.add_argument("--candidates", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    thumbs = rng.integers(0, 256, (args.queries, 32, 32), dtype=np.uint8)
    candidates = rng.integers(0, args.queries, (args.queries, args.candidates))
    with_rotations = _seconds(thumbs, candidates, args.repeat)
    angles, fingerprints.ANGLES = fingerprints.ANGLES, ()
    try:
        without = _seconds(thumbs, candidates, args.repeat)
    finally:
        fingerprints.ANGLES = angles
    report("rotation_cost", queries=args.queries, candidates=args.candidates, angles=list(angles),
           seconds_with=round(with_rotations, 3), seconds_without=round(without, 3),
           ratio=round(with_rotations / without, 2), pairs_per_second_with=round(thumbs.size / 1024 * args.candidates
                                                                                 / with_rotations),
           machine=machine())


if __name__ == "__main__":
    main()
