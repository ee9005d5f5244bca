"""Imported outputs as plabel's prediction rows: the distribution each row gives, checked.

Probabilities are taken as they are; logits go through a softmax (over the outputs given: with
top-k logits only, that renormalises over the k classes and overstates each probability). With a
full distribution the margin and the entropy are exact. With top-k outputs, the margin uses the
second output (with top-1 only: its lower bound, p1 - (1 - p1)), and the entropy spreads the
remaining mass evenly over the classes not given (the largest entropy the outputs allow).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from plabel.errors import UsageError
from plabel.external.read import Records

TOPK = 5  # classes kept in `index` / `prob`, as infer's default --topk


def prediction_rows(recs: Records, matched: list[Any], classes: list[str], ckpt_id: str,
                    file: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """One predictions row per matched record; UsageError names the first bad one."""
    by_name = {c: i for i, c in enumerate(classes)}
    rows, topk_only = [], 0
    for n, m in enumerate(matched):
        if m is None:
            continue
        where = f"{file}: row {n + 1} ({recs.keys[n]!r})"
        index = _indices(recs, n, by_name, len(classes), where)
        p = _probabilities(np.asarray(recs.outputs[n], np.float64), recs.output_type, len(index), where)
        order = np.argsort(-p, kind="stable")
        topk_only += len(p) < len(classes)
        rows.append(_row(m, ckpt_id, p[order], np.asarray(index)[order], len(classes)))
    notes = []
    if topk_only and recs.output_type == "logit":
        notes.append(f"{topk_only} rows give top-k logits only: their probabilities are renormalised over those "
                     "classes (overstated); import probabilities or every class's logits instead")
    return rows, notes


def _indices(recs: Records, n: int, by_name: dict[str, int], num_classes: int, where: str) -> list[int]:
    outputs = recs.outputs[n]
    if recs.indices is not None and recs.indices[n]:
        index = recs.indices[n]
    elif recs.labels is not None and recs.labels[n] and len(outputs) < num_classes:
        unknown = [x for x in recs.labels[n] if x not in by_name]
        if unknown:
            raise UsageError(f"{where}: label {unknown[0]!r} is not a class of this workspace")
        index = [by_name[x] for x in recs.labels[n]]
    elif len(outputs) == num_classes:
        index = list(range(num_classes))
    else:
        raise UsageError(f"{where}: {len(outputs)} outputs but the workspace has {num_classes} classes, and no "
                         "`index` column names them (timm's `--include-index`, or `--topk 0` for every class)")
    if len(index) != len(outputs) or len(set(index)) != len(index):
        raise UsageError(f"{where}: {len(index)} class indices for {len(outputs)} outputs, or an index repeated")
    if not outputs:
        raise UsageError(f"{where}: no outputs")
    if min(index) < 0 or max(index) >= num_classes:
        raise UsageError(f"{where}: class index {max(index) if max(index) >= num_classes else min(index)} is outside "
                         f"the workspace's {num_classes} classes")
    return index


def _probabilities(values: np.ndarray, kind: str, k: int, where: str) -> np.ndarray:
    if not np.isfinite(values).all():
        raise UsageError(f"{where}: a NaN or infinite output")
    if kind == "logit":
        e = np.exp(values - values.max())
        return np.asarray(e / e.sum())
    if (values < -1e-6).any() or (values > 1 + 1e-6).any() or values.sum() > 1 + 1e-3:
        raise UsageError(f"{where}: probabilities must lie in [0, 1] and sum to at most 1 (got sum "
                         f"{values.sum():.4g}); are these logits? pass `output_type` logit")
    return np.asarray(np.clip(values, 0.0, 1.0))


def _row(m: tuple[str, str], ckpt_id: str, p: np.ndarray, index: np.ndarray, num_classes: int) -> dict[str, Any]:
    k = len(p)
    second = p[1] if k > 1 else max(1.0 - p[0], 0.0) if num_classes > 1 else 0.0
    margin = 1.0 if num_classes == 1 else max(float(p[0] - second), 0.0)
    nz = p[p > 0]
    entropy = float(-(nz * np.log(nz)).sum())
    rest, others = max(1.0 - float(p.sum()), 0.0), num_classes - k
    if rest > 0 and others > 0:  # the mass not given, spread over the classes not given
        entropy -= rest * np.log(rest / others)
    return {"image_id": m[0], "split": m[1], "checkpoint_id": ckpt_id, "class_id": int(index[0]),
            "confidence": float(p[0]), "margin": margin, "entropy": entropy,
            "index": [int(i) for i in index[:TOPK]], "prob": [float(x) for x in p[:TOPK]], "probs": None,
            "temperature": 1.0}
