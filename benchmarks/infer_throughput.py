"""Inference throughput and storage: `plabel infer` against its limit and a naive loop, same run.

(a) the model's forward pass alone on pre-decoded tensors (the limit), (b) `plabel infer` end to
end on the same images as PNG files, (c) a naive per-image loop that decodes, predicts and
appends to a pandas DataFrame, then writes Parquet. Reported for a model whose forward pass
dominates (resnet18 at 64 px) and a tiny one (test_resnet at 32 px). Targets: (b) >= 0.8 x (a)
for the former, (b) >= 3 x (c). Then bytes per row on disk of 1,000-class predictions with top-5
against the full float16 vector.

    python benchmarks/infer_throughput.py [--images 2000]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, report  # noqa: E402

BATCH = 256


def forward_only(model, tensors: torch.Tensor) -> float:
    with torch.inference_mode():
        model(tensors[:BATCH])  # warm-up
        start = time.perf_counter()
        for i in range(0, len(tensors), BATCH):
            torch.softmax(model(tensors[i: i + BATCH]), -1).topk(5)
    return len(tensors) / (time.perf_counter() - start)


def naive(model, files: list[str], transform, out: Path) -> float:
    import pandas as pd
    from PIL import Image

    start = time.perf_counter()
    df = pd.DataFrame(columns=["filename", "class_id", "confidence", "index", "prob"])
    with torch.inference_mode():
        for f in files:
            x = transform(Image.open(f).convert("RGB"))[None]
            p = torch.softmax(model(x), -1)[0]
            top_p, top_i = p.topk(5)
            row = pd.DataFrame([{"filename": f, "class_id": int(top_i[0]), "confidence": float(top_p[0]),
                                 "index": top_i.tolist(), "prob": top_p.tolist()}])
            df = pd.concat([df, row], ignore_index=True)
    df.to_parquet(out)
    return len(files) / (time.perf_counter() - start)


def bytes_per_row(tmp: Path, rows: int = 20000, classes: int = 1000) -> dict:
    from plabel import storage
    from plabel.infer import predictions_table, summarize
    from plabel.schema import table

    torch.manual_seed(0)
    logits = torch.randn(rows, classes) * 3  # a spread of confident and unsure rows
    logits[torch.arange(rows), torch.randint(0, classes, (rows,))] += 8
    s = summarize(logits, 1.0, 5)
    ids = [f"{i:032x}" for i in range(rows)]
    out = {}
    for mode in ("topk", "full"):
        cols = dict(s, image_id=ids, split=["unlabeled"] * rows)
        path = tmp / f"{mode}.parquet"
        storage.write_arrow(predictions_table(cols, "0" * 16, 1.0, mode == "full"), path, table("predictions"))
        out[mode] = path.stat().st_size / rows
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--naive-images", type=int, default=300)
    args = ap.parse_args()

    from plabel import checkpoints, models
    from plabel.datasets import load_mnist, write_split_folders
    from plabel.images import load_rgb
    from plabel.infer import InferOptions, infer
    from plabel.ingest import IngestOptions, ingest
    from plabel.train import TrainOptions, train
    from plabel.workspace import init_workspace

    x, y = load_mnist()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folders = write_split_folders(tmp / "data", x, y, labeled_per_class=10, test_per_class=0,
                                      unlabeled_per_class=args.images // 10)
        ws = init_workspace(tmp / "ws")
        ingest(ws, IngestOptions(source=folders.train, split="train"))
        ingest(ws, IngestOptions(source=folders.unlabeled, split="unlabeled"))
        files = sorted(str(p) for p in folders.unlabeled.rglob("*.png"))
        for seed, (model_name, size) in enumerate([("resnet18", 64), ("test_resnet", 32)]):
            r = train(ws, TrainOptions(round=0, model=model_name, img_size=size, epochs=1, workers=0, seed=seed))
            ckpt = checkpoints.find(ws, r.checkpoint_id)
            model = checkpoints.build_model(ckpt)
            tf = models.eval_transform(ckpt.data_config)
            tensors = torch.stack([tf(load_rgb(f)) for f in files])
            a = forward_only(model, tensors)
            shutil.rmtree(ws.round_dir("predictions", 0), ignore_errors=True)
            res = infer(
                ws, InferOptions(round=0, checkpoint=r.checkpoint_id, workers=2, batch_size=BATCH, overwrite=True)
            )
            b = res.images_per_s
            c = naive(model, files[: args.naive_images], tf, tmp / "naive.parquet")
            report(
                "infer_throughput",
                machine=machine(),
                model=model_name,
                img_size=size,
                images=len(files),
                forward_only_per_s=round(a, 1),
                plabel_per_s=round(b, 1),
                naive_per_s=round(c, 1),
                plabel_over_forward=round(b / a, 3),
                plabel_over_naive=round(b / c, 2),
                targets={"plabel_over_forward": 0.8, "plabel_over_naive": 3},
            )
        sizes = bytes_per_row(tmp)
        report(
            "predictions_bytes_per_row",
            classes=1000,
            rows=20000,
            topk5=round(sizes["topk"], 1),
            full_float16=round(sizes["full"], 1),
            ratio=round(sizes["full"] / sizes["topk"], 1),
        )


if __name__ == "__main__":
    main()
