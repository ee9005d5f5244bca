"""Hand-built tables for tests whose right answers are known by construction.

Rows are written through plabel's own writers into a real workspace (real Parquet, real DuckDB
views); only the image files are absent, which selection and dedup never open.
"""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pyarrow as pa

from plabel import storage
from plabel.schema import table

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def iid(n: int | str) -> str:
    """A 32-hex-digit image id from a short name, in the same sort order as the names."""
    return f"{n:0>32}" if isinstance(n, str) else f"{n:032d}"


def add_classes(ws, names: list[str]) -> None:
    storage.write_arrow(pa.table({"class_id": list(range(len(names))), "name": names, "added_at": [NOW] * len(names)}),
                        ws.table_dir("classes") / storage.part_name(), table("classes"))


def add_images(ws, rows: list[tuple]) -> None:
    """rows: (image_id, split, label or None, true_label or None)."""
    data = [{"image_id": i, "split": s, "path": f"img/{s}/{i}.png", "label": lab, "true_label": t, "width": 8,
             "height": 8, "mode": "L", "format": "PNG", "bytes": 100, "ingest_id": "test", "ingested_at": NOW}
            for i, s, lab, t in rows]
    storage.write_arrow(pa.Table.from_pylist(data, schema=table("images").arrow_schema()),
                        ws.table_dir("images") / storage.part_name(), table("images"))


def add_predictions(ws, round: int, rows: list[tuple], num_classes: int, checkpoint_id: str = "c" * 16,
                    split: str = "unlabeled", full: bool = False) -> None:
    """rows: (image_id, class_id, confidence); the rest of the mass spread evenly over the others."""
    out = []
    for image_id, cls, conf in rows:
        probs = np.full(num_classes, (1 - conf) / max(num_classes - 1, 1), np.float64)
        probs[cls] = conf
        order = np.argsort(-probs, kind="stable")
        k = min(5, num_classes)
        out.append({
            "image_id": image_id, "split": split, "checkpoint_id": checkpoint_id, "class_id": cls,
            "confidence": np.float32(conf),
            "margin": float(probs[order[0]] - probs[order[1]]) if num_classes > 1 else 1.0,
            "entropy": float(-(probs * np.log(np.clip(probs, 1e-12, 1))).sum()),
            "index": [int(c) for c in order[:k]], "prob": [float(probs[c]) for c in order[:k]],
            "probs": [float(p) for p in probs] if full else None, "temperature": 1.0,
        })
    folder = ws.round_dir("predictions", round)
    storage.write_arrow(pa.Table.from_pylist(out, schema=table("predictions").arrow_schema()),
                        folder / storage.part_name(), table("predictions"))


def add_embeddings(ws, round: int, rows: list[tuple], checkpoint_id: str = "c" * 16) -> None:
    """rows: (image_id, split, vector); vectors are normalised here."""
    out = [{"image_id": i, "split": s, "checkpoint_id": checkpoint_id,
            "embedding": list((np.asarray(v, np.float32) / np.linalg.norm(v)).astype(np.float16))} for i, s, v in rows]
    dest = ws.round_dir("embeddings", round) / storage.part_name()
    storage.write_arrow(pa.Table.from_pylist(out), dest, table("embeddings"))


def add_checkpoint_row(ws, checkpoint_id: str, round: int, manifest_hash: str, parent_id: str | None = None) -> None:
    row = {"checkpoint_id": checkpoint_id, "round": round, "kind": "train", "model": "test_resnet",
           "parent_id": parent_id, "manifest_hash": manifest_hash, "manifest_path": None,
           "run_id": "run" + checkpoint_id,
           "num_classes": 3, "img_size": 32, "val_top1": None, "path": f"checkpoints/{checkpoint_id}", "config": "{}",
           "created_at": NOW.replace(hour=round)}
    storage.write_arrow(pa.Table.from_pylist([row]), ws.table_dir("checkpoints") / f"{checkpoint_id}.parquet",
                        table("checkpoints"))


def add_eval_row(ws, checkpoint_id: str, round: int, split: str, top1: float) -> None:
    row = {"eval_id": "e" + checkpoint_id, "checkpoint_id": checkpoint_id, "round": round, "split": split,
           "kind": "clean", "metric": "top1", "corruption": None, "severity": None, "epsilon": None, "class_id": None,
           "pred_class_id": None, "value": top1, "n": 3, "reference_id": None, "settings": None,
           "evaluated_at": NOW}
    storage.write_arrow(pa.Table.from_pylist([row]), ws.table_dir("evals") / storage.part_name(), table("evals"))


# Three rounds whose flips, transitions, churn and accuracies are known by construction.
# classes a=0, b=1, c=2; unlabeled u1..u6 (withheld truth a a b b c c), test t1 (a) t2 (b), val v1 (c)
THREE_ROUNDS = {
    0: {"u1": (0, 0.9), "u2": (1, 0.6), "u3": (1, 0.8), "u4": (0, 0.4), "u5": (2, 0.7), "u6": (2, 0.2),
        "t1": (0, 0.9), "t2": (0, 0.5), "v1": (2, 0.8)},
    1: {"u1": (0, 0.95), "u2": (0, 0.7), "u3": (1, 0.9), "u4": (1, 0.6), "u5": (2, 0.8), "u6": (0, 0.5),
        "t1": (1, 0.6), "t2": (1, 0.7), "v1": (2, 0.9)},
    2: {"u1": (0, 0.97), "u2": (0, 0.8), "u3": (2, 0.5), "u4": (1, 0.7), "u5": (2, 0.9), "u6": (2, 0.6),
        "t1": (1, 0.7), "t2": (1, 0.8), "v1": (0, 0.4)},
}
TRUTH = {"u1": "a", "u2": "a", "u3": "b", "u4": "b", "u5": "c", "u6": "c", "t1": "a", "t2": "b", "v1": "c"}


def three_rounds(ws) -> None:
    """Build the THREE_ROUNDS workspace: images, predictions, selections (thresholds 0.5 and 0.55),
    checkpoints, evals."""
    from plabel.selection import SelectOptions, select

    add_classes(ws, ["a", "b", "c"])
    add_images(ws, [(iid(n), "unlabeled", None, TRUTH[n]) for n in TRUTH if n.startswith("u")]
               + [(iid(n), "test", TRUTH[n], None) for n in ("t1", "t2")] + [(iid("v1"), "val", "c", None)])
    for r, preds in THREE_ROUNDS.items():
        for split, prefix in (("unlabeled", "u"), ("test", "t"), ("val", "v")):
            rows = [(iid(n), c, p) for n, (c, p) in preds.items() if n.startswith(prefix)]
            add_predictions(ws, r, rows, 3, checkpoint_id=f"ckpt{r}" * 4, split=split)
    hashes = {}
    for r, threshold in ((0, 0.5), (1, 0.55)):
        hashes[r] = select(ws, SelectOptions(round=r, threshold=threshold, balance="none")).manifest_hash
    add_checkpoint_row(ws, "ckpt0" * 4, 0, "labeled")
    add_checkpoint_row(ws, "ckpt1" * 4, 1, hashes[0], "ckpt0" * 4)
    add_checkpoint_row(ws, "ckpt2" * 4, 2, hashes[1], "ckpt1" * 4)
    for r, top1 in ((0, 50.0), (1, 66.7), (2, 75.0)):
        add_eval_row(ws, f"ckpt{r}" * 4, r, "test", top1)
