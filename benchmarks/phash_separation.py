"""Why dedup does not use perceptual hashes: copies against distinct neighbours, pHash vs plabel's fingerprint.

For 2,000 MNIST digits (28x28) and 2,000 photo patches (the crops of benchmarks/dedup_quality.py),
compares (a) each of 300 images with synthetic copies of itself (plabel.dedup.synthetic: JPEG,
resize, crop, brightness, 1-pixel shift) and (b) each image with its nearest other image, by a
64-bit pHash (imagehash; Hamming distance, lower = closer) and by plabel's aligned thumbnail
correlation (higher = closer). Reported: the share of images whose nearest distinct neighbour is
at least as close as the 98th-percentile copy, i.e. the false-positive rate at 98% recall.

    python benchmarks/phash_separation.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402
from dedup_quality import digits, photo_patches  # noqa: E402


def phash_bits(images) -> np.ndarray:
    import imagehash

    return np.array([imagehash.phash(im).hash.flatten() for im in images], dtype=np.uint8)


def main() -> None:
    import plabel.fingerprints as fp
    from plabel.dedup.pixels import _matched
    from plabel.dedup.synthetic import variants

    for kind, load in (("digits", digits), ("photos", photo_patches)):
        images, _ = load(2000, np.random.default_rng(1))
        rng = np.random.default_rng(0)
        copies = [(i, v) for i in range(300) for v in variants(images[i], rng).values()]
        bits = phash_bits(images).astype(np.int32)
        dist = bits @ (1 - bits).T + (1 - bits) @ bits.T
        np.fill_diagonal(dist, 999)
        copy_bits = phash_bits([v for _, v in copies]).astype(np.int32)
        copy_dist = np.abs(copy_bits - bits[[i for i, _ in copies]]).sum(axis=1)
        thumbs = fp.as_arrays([fp.fingerprint(im)[0] for im in images])
        nbrs = _matched(thumbs, thumbs, 17, 200_000)[0]
        sims = fp.verify(thumbs, fp.centre(thumbs), nbrs)
        sims[nbrs == np.arange(len(thumbs))[:, None]] = -1
        centres = fp.centre(thumbs)
        copy_sims = np.array([fp.aligned_similarity_many(fp.as_arrays([fp.fingerprint(v)[0]]), centres[i])[0]
                              for i, v in copies])
        radius, floor = np.quantile(copy_dist, 0.98), np.quantile(copy_sims, 0.02)
        report("phash_separation", data=kind, images=len(images), copies=len(copies),
               phash_radius_at_98pct_recall=float(radius),
               phash_nearest_distinct_median_bits=float(np.median(dist.min(axis=1))),
               phash_false_positive_rate=round(float((dist.min(axis=1) <= radius).mean()), 4),
               fingerprint_threshold_at_98pct_recall=round(float(floor), 4),
               fingerprint_false_positive_rate=round(float((sims.max(axis=1) >= floor).mean()), 4))


if __name__ == "__main__":
    main()
