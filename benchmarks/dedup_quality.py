"""Duplicate detection quality against ground truth: precision, recall, and a clean pool's losses.

Two kinds of data: the demo's MNIST digits (28x28) and photo-like patches (distinct 32-pixel
crops of the sample photos scikit-image and scikit-learn ship; flat crops and the periodic brick
wall left out, at most 300 per photo). Each gets a pool of distinct images plus injected near
duplicates of pool images (one of JPEG quality 70-90, resize +-10%, crop 5%, brightness +-10%,
a 1-pixel shift, drawn with another seed than dedup's calibration) and injected test look-alikes
(such copies of test images, put in the pool). A tiny teacher (test_resnet, 20 labels per
class) gives the embeddings. Reported per signal (pixels, embeddings, both): precision and
recall of in-pool and contamination flags, and the share of a pool without injections that
dedup excludes.

    python benchmarks/dedup_quality.py [--pool 1800] [--test 400] [--kinds digits,photos,lookalike] [--signals pixels]
                                        [--seeds 1,2,3,4,5]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, report  # noqa: E402

PER_SOURCE = 300  # crops per photo, so that one large photo does not make the pool


def photo_patches(n: int, rng: np.random.Generator) -> tuple[list[Image.Image], np.ndarray]:
    """Distinct 32x32 crops: at most PER_SOURCE per photo, none nearly flat (a crop of sky or
    background is a copy of its neighbour), no periodic texture (a brick wall's crops are copies
    of each other), no binary silhouette (the horse: its crops are one straight black-and-white
    edge at different offsets, which is what a shifted copy of one of them is; drawn, then left
    out, so that every other crop keeps its draw)."""
    import skimage.data as data
    from sklearn.datasets import load_sample_images

    names = ["astronaut", "camera", "cat", "cell", "clock", "coffee", "coins", "grass", "gravel", "horse",
             "hubble_deep_field", "immunohistochemistry", "moon", "retina", "rocket"]
    sources = [getattr(data, k)() for k in names] + list(load_sample_images().images)
    out, labels, side = [], [], 32
    for label, a in enumerate(sources):
        a = (a * 255).astype(np.uint8) if a.dtype == bool else a
        a = np.stack([a] * 3, -1) if a.ndim == 2 else a[..., :3]
        crops = [a[y:y + side, x:x + side] for y in range(0, a.shape[0] - side + 1, side)
                 for x in range(0, a.shape[1] - side + 1, side)]
        crops = [c for c in crops if c.std() > 20]
        for k in rng.permutation(len(crops))[:PER_SOURCE]:
            out.append(Image.fromarray(crops[k]))
            labels.append(label)
    order = rng.permutation(len(out))
    order = order[np.array(labels)[order] != names.index("horse")][:n]
    return [out[i] for i in order], np.array(labels)[order]


def digits(n: int, rng: np.random.Generator) -> tuple[list[Image.Image], np.ndarray]:
    from plabel.datasets import load_mnist

    x, y = load_mnist()
    order = rng.permutation(len(x))[:n]
    return [Image.fromarray(x[i], "L") for i in order], y[order]


def inject(images, n, rng) -> list[tuple[int, str, Image.Image]]:
    """n synthetic copies: (index of the source, the transform, the copy), the transforms in turn."""
    from plabel.dedup.synthetic import TRANSFORMS

    names = list(TRANSFORMS)
    picks = rng.choice(len(images), n, replace=False)
    return [(int(i), names[k % len(names)], TRANSFORMS[names[k % len(names)]](images[i].convert("RGB"), rng))
            for k, i in enumerate(picks)]


def build(root: Path, images, labels, args, rng, injected: bool):
    """Folders train/test/unlabeled and the ground truth: pool file -> (kind, source file)."""
    n_train = 20 * len(set(labels.tolist()))
    train, test, pool = (np.arange(n_train), np.arange(n_train, n_train + args.test),
                         np.arange(n_train + args.test, n_train + args.test + args.pool))
    truth: dict[str, tuple[str, str]] = {}
    for split, idx in (("train", train), ("test", test), ("unlabeled", pool)):
        for i in idx:
            folder = root / split / (str(labels[i]) if split != "unlabeled" else "")
            folder.mkdir(parents=True, exist_ok=True)
            images[i].save(folder / f"{i:05d}.png")
    if injected:
        for kind, source, n in (("pool", pool, args.pool // 10), ("test", test, args.test // 5)):
            for k, (j, transform, copy) in enumerate(inject([images[i] for i in source], n, rng)):
                name = f"copy_{kind}_{transform}_{k:04d}.png"
                copy.save(root / "unlabeled" / name)
                src = source[j]
                truth[name] = (kind, f"{src:05d}.png")
    return truth


def run_dedup(root: Path, signals: tuple[str, ...]):
    from plabel.dedup import DedupOptions, dedup
    from plabel.workspace import open_workspace

    ws = open_workspace(root / "ws")
    t = time.perf_counter()
    r = dedup(ws, DedupOptions(round=0, pixels="pixels" in signals, embeddings="embeddings" in signals))
    return ws, r, time.perf_counter() - t


def prepare(root: Path, images, labels, args, rng, injected: bool):
    from plabel.infer import InferOptions, infer
    from plabel.ingest import IngestOptions, ingest
    from plabel.train import TrainOptions, train
    from plabel.workspace import init_workspace

    truth = build(root / "data", images, labels, args, rng, injected)
    ws = init_workspace(root / "ws", classes=sorted({str(v) for v in labels.tolist()}))
    for split in ("train", "test", "unlabeled"):
        ingest(ws, IngestOptions(source=root / "data" / split, split=split, workers=2))
    if args.signals == "pixels":  # no model needed: dedup round 0 before any teacher (pixels only)
        return truth
    train(ws, TrainOptions(round=0, model="test_resnet", img_size=32, epochs=args.epochs, batch_size=32, workers=0,
                           lr=3e-3, hflip=0.0, crop_scale=0.5, seed=0))
    infer(ws, InferOptions(round=0, splits=("unlabeled", "test"), embeddings=True, workers=0))
    return truth


def scores(ws, truth: dict) -> dict:
    """Precision and recall of in-pool grouping and of contamination, from the duplicates table."""
    name = {r[0]: Path(r[1]).name for r in ws.rows("SELECT image_id, path FROM images")}
    dups = ws.rows("SELECT image_id, duplicate_of, scope, excluded, kind FROM duplicates WHERE round = 0")
    cluster = {n: (src if kind == "pool" else None) for n, (kind, src) in truth.items()}

    def key(n):
        return cluster.get(n) or n

    excluded_pool = [(name[i], name[d]) for i, d, s, e, _ in dups if s == "unlabeled" and e]
    grouped = {name[i]: name[d] for i, d, s, _, _ in dups if s == "unlabeled"}
    true_pool = [n for n, (kind, _) in truth.items() if kind == "pool"]
    found = sum(1 for n in true_pool if n in grouped and grouped.get(truth[n][1], truth[n][1]) == grouped[n])
    contaminated = {name[i]: name[d] for i, d, s, _, k in dups if s == "test" and k != "exact"}
    true_test = {n: src for n, (kind, src) in truth.items() if kind == "test"}
    by_type: dict[str, list[bool]] = {}
    for n in true_pool:
        found_n = n in grouped and grouped.get(truth[n][1], truth[n][1]) == grouped[n]
        by_type.setdefault(n.split("_")[2], []).append(found_n)
    for n in true_test:
        by_type.setdefault(n.split("_")[2], []).append(true_test[n] == contaminated.get(n))
    return {
        "recall_by_type": {k: _ratio(sum(v), len(v)) for k, v in sorted(by_type.items())},
        "pool_precision": _ratio(sum(key(a) == key(b) for a, b in excluded_pool), len(excluded_pool)),
        "pool_recall": _ratio(found, len(true_pool)),
        "contamination_precision": _ratio(sum(true_test.get(a) == b for a, b in contaminated.items()),
                                          len(contaminated)),
        "contamination_recall": _ratio(sum(true_test[n] == contaminated.get(n) for n in true_test), len(true_test)),
    }


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pool", type=int, default=1800)
    ap.add_argument("--test", type=int, default=400)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seeds", default="1", help="each draws the images; the injections use seed + 1")
    ap.add_argument("--kinds", default="digits,photos")
    ap.add_argument("--signals", default="pixels;embeddings;pixels,embeddings",
                    help="signal sets to run, ';'-separated")
    args = ap.parse_args()
    from kinds import lookalike

    loaders = {"digits": digits, "photos": photo_patches, "lookalike": lookalike}
    for kind, seed, injected in ((k, int(s), i) for k in args.kinds.split(",") for s in args.seeds.split(",")
                                 for i in (True, False)):
        args.seed = seed
        rng = np.random.default_rng(seed)
        images, labels = loaders[kind](args.pool + args.test + 400, rng)
        with tempfile.TemporaryDirectory() as tmp:
            truth = prepare(Path(tmp), images, labels, args, np.random.default_rng(seed + 1), injected)
            for signals in (tuple(s.split(",")) for s in args.signals.split(";")):
                ws, r, seconds = run_dedup(Path(tmp), signals)
                fields = scores(ws, truth) if injected else {"excluded_share": round(r.excluded / r.pool, 4)}
                report("dedup_quality", data=kind, seed=seed, injected=injected, signals="+".join(signals),
                       pool=r.pool, **fields, excluded=r.excluded, seconds=round(seconds, 1), machine=machine(),
                       thresholds={f"{t['signal']} {t['scope']}": round(t["threshold"], 4) for t in r.thresholds})

if __name__ == "__main__":
    main()
