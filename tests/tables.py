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
    storage.write_arrow(pa.Table.from_pylist(data), ws.table_dir("images") / storage.part_name(), table("images"))


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
            "confidence": np.float32(conf), "margin": float(probs[order[0]] - probs[order[1]]) if num_classes > 1 else 1.0,
            "entropy": float(-(probs * np.log(np.clip(probs, 1e-12, 1))).sum()),
            "index": [int(c) for c in order[:k]], "prob": [float(probs[c]) for c in order[:k]],
            "probs": [float(p) for p in probs] if full else None, "temperature": 1.0,
        })
    folder = ws.round_dir("predictions", round)
    storage.write_arrow(pa.Table.from_pylist(out), folder / storage.part_name(), table("predictions"))


def add_embeddings(ws, round: int, rows: list[tuple], checkpoint_id: str = "c" * 16) -> None:
    """rows: (image_id, split, vector); vectors are normalised here."""
    out = [{"image_id": i, "split": s, "checkpoint_id": checkpoint_id,
            "embedding": list((np.asarray(v, np.float32) / np.linalg.norm(v)).astype(np.float16))} for i, s, v in rows]
    storage.write_arrow(pa.Table.from_pylist(out), ws.round_dir("embeddings", round) / storage.part_name(), table("embeddings"))
