"""Near-duplicate search at scale: 1M x 128-d embeddings, time and recall against exact search.

Synthetic unit vectors with planted near duplicates (10% of the rows are noisy copies of others,
at cosine similarity ~0.995) go through plabel's near-duplicate grouping, which switches to an
IVF index above 200,000 vectors. Recall: for 1,000 sampled rows, the neighbours at or above the
threshold found by exact search (IndexFlatIP) that the grouping also linked. Target: under 10
minutes on 2 cores.

    python benchmarks/dedup_scale.py [--rows 1000000] [--dim 128]
    python benchmarks/dedup_scale.py --pixels 100000    # the pixel signal instead
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, report  # noqa: E402


def pixel_scale(rows: int) -> None:
    """The pixel signal's search and verification over `rows` synthetic 32x32 thumbnails (smooth
    random images; 10% of them 1-pixel shifted copies of others): seconds and recall of the copies."""
    from PIL import Image

    from plabel import fingerprints
    from plabel.dedup import NEIGHBOURS
    from plabel.dedup.evidence import pool_pairs
    from plabel.dedup.pixels import _matched

    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (rows, 8, 8), dtype=np.uint8)
    thumbs = np.stack([np.asarray(Image.fromarray(a).resize((32, 32), Image.Resampling.BICUBIC)) for a in small])
    copies = rng.choice(rows, rows // 10, replace=False)
    sources = rng.choice(np.setdiff1d(np.arange(rows), copies), len(copies))
    thumbs[copies] = np.roll(thumbs[sources], 1, axis=2)
    start = time.perf_counter()
    nbrs = _matched(thumbs, thumbs, NEIGHBOURS + 1, 200_000)[0]
    searched = time.perf_counter() - start
    sims = fingerprints.verify(thumbs, fingerprints.centre(thumbs), nbrs)
    pairs, similarity, _ = pool_pairs(sims, nbrs)
    seconds = time.perf_counter() - start
    found = {tuple(p) for p in pairs[similarity >= 0.99].tolist()}
    truth = {(min(a, b), max(a, b)) for a, b in zip(copies.tolist(), sources.tolist(), strict=True)}
    report("dedup_scale_pixels", machine=machine(), rows=rows, seconds=round(seconds, 1),
           search_seconds=round(searched, 1), per_image_ms=round(1000 * seconds / rows, 3),
           copies_found=round(len(found & truth) / len(truth), 4))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--threshold", type=float, default=0.99)
    ap.add_argument("--pixels", type=int, default=0, help="instead: pixel search over this many thumbnails")
    args = ap.parse_args()
    if args.pixels:
        pixel_scale(args.pixels)
        return

    import faiss

    from plabel.dedup import NEIGHBOURS
    from plabel.dedup.embeddings import pool_search
    from plabel.dedup.rows import components

    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.rows, args.dim)).astype(np.float32)
    copies = rng.choice(args.rows, args.rows // 10, replace=False)
    sources = rng.choice(np.setdiff1d(np.arange(args.rows), copies), len(copies))
    x[copies] = x[sources] + rng.normal(scale=0.1, size=(len(copies), args.dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = [f"{i:032x}" for i in range(args.rows)]

    start = time.perf_counter()
    pairs, sims, _ = pool_search(x, NEIGHBOURS, 200_000)
    labels = components(args.rows, pairs[sims >= args.threshold])
    seconds = time.perf_counter() - start
    sizes = np.bincount(labels)
    group_of = {ids[i]: int(labels[i]) for i in np.flatnonzero(sizes[labels] > 1)}
    index = "flat" if args.rows <= 200_000 else "ivf"

    sample = rng.choice(args.rows, 1000, replace=False)
    flat = faiss.IndexFlatIP(args.dim)
    flat.add(x)
    sims, nbrs = flat.search(x[sample], NEIGHBOURS + 1)
    truth = found = 0
    for q, (s, n) in zip(sample, zip(sims, nbrs, strict=False), strict=False):
        for sim, j in zip(s, n, strict=False):
            if j == q or sim < args.threshold:
                continue
            truth += 1
            a, b = ids[q], ids[j]
            found += a in group_of and group_of.get(a) == group_of.get(b)
    report("dedup_scale", machine=machine(), rows=args.rows, dim=args.dim, threshold=args.threshold, index=index,
           seconds=round(seconds, 1), groups=int((sizes > 1).sum()), grouped_images=len(group_of),
           sampled_true_pairs=truth, recall=round(found / truth, 4) if truth else None, target_seconds=600)


if __name__ == "__main__":
    main()
