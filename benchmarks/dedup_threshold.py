"""Choosing the near-duplicate similarity threshold by measurement.

A teacher is trained on 200 labeled MNIST digits (as in the demo); then, for 500 other digits,
each image is compared with a near-duplicate variant of itself (JPEG re-encoding, a 1-pixel
shift, +-10% brightness, mild noise, a down-up resize: the copies that really occur in scraped
pools) and with its most similar *different* digit among 2,000. Reported: the cosine similarity
distributions of both, and for candidate thresholds the share of variants caught (recall) and of
distinct images wrongly flagged (false positive rate).

    python benchmarks/dedup_threshold.py
"""
from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageEnhance

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402


def variants(im: Image.Image, rng: np.random.Generator) -> list[Image.Image]:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=75)
    jpeg = Image.open(io.BytesIO(buf.getvalue())).convert("L")
    shift = Image.fromarray(np.roll(np.asarray(im), 1, axis=1))
    bright = ImageEnhance.Brightness(im).enhance(float(rng.choice([0.9, 1.1])))
    noisy = Image.fromarray(
        np.clip(np.asarray(im, np.float32) + rng.normal(0, 4, im.size[::-1]), 0, 255).astype(np.uint8)
    )
    resized = im.resize((20, 20), Image.BILINEAR).resize(im.size, Image.BILINEAR)
    return [jpeg, shift, bright, noisy, resized]


def main() -> None:
    from plabel import checkpoints
    from plabel.datasets import load_mnist, write_split_folders
    from plabel.infer import forward
    from plabel.ingest import ingest
    from plabel.models import eval_transform
    from plabel.train import TrainOptions, train
    from plabel.workspace import init_workspace

    x, y = load_mnist()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folders = write_split_folders(
            Path(tmp) / "data", x, y, labeled_per_class=20, test_per_class=0, unlabeled_per_class=0
        )
        ws = init_workspace(Path(tmp) / "ws")
        ingest(ws, folders.train, split="train")
        r = train(
            ws,
            TrainOptions(
                round=0,
                model="test_resnet",
                img_size=32,
                epochs=15,
                batch_size=32,
                workers=0,
                lr=3e-3,
                hflip=0.0,
                crop_scale=0.5,
            ),
        )
        ckpt = checkpoints.find(ws, r.checkpoint_id)
        model = checkpoints.build_model(ckpt)
        tf = eval_transform(ckpt.data_config)

        def embed(images: list[Image.Image]) -> np.ndarray:
            with torch.inference_mode():
                batch = torch.stack([tf(im.convert("RGB")) for im in images])
                return forward(model, batch, True)[1].numpy()

        pool_idx = rng.choice(np.arange(1000, 5000), 2000, replace=False)
        pool = [Image.fromarray(x[i], "L") for i in pool_idx]
        e_pool = embed(pool)
        queries = range(500)
        positives, negatives = [], []
        for q in queries:
            e_var = embed(variants(pool[q], rng))
            positives += list(e_var @ e_pool[q])
            sims = e_pool @ e_pool[q]
            sims[q] = -1
            negatives.append(sims.max())
        positives, negatives = np.array(positives), np.array(negatives)
        kinds = np.tile(["jpeg75", "shift1px", "brightness10%", "noise4", "resize20"], len(queries))
        for name, v in (("variant_of_itself", positives), ("most_similar_other_digit", negatives)):
            report(
                "dedup_similarity",
                pairs=name,
                n=len(v),
                p01=round(float(np.quantile(v, 0.01)), 4),
                p10=round(float(np.quantile(v, 0.10)), 4),
                median=round(float(np.median(v)), 4),
                p90=round(float(np.quantile(v, 0.90)), 4),
                p99=round(float(np.quantile(v, 0.99)), 4),
            )
        for t in (0.95, 0.97, 0.98, 0.99, 0.995, 0.998):
            per_kind = {k: round(float((positives[kinds == k] >= t).mean()), 3) for k in dict.fromkeys(kinds)}
            report(
                "dedup_threshold",
                threshold=t,
                recall=round(float((positives >= t).mean()), 3),
                false_positive_rate=round(float((negatives >= t).mean()), 3),
                recall_by_variant=per_kind,
            )


if __name__ == "__main__":
    main()
