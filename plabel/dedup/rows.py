"""From evidence and thresholds to rows of the `duplicates` table."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from plabel.dedup.evidence import Evidence, HeldOut, Pool
from plabel.workspace import HELD_OUT

RULES = ("exact", "pixels held_out", "embeddings held_out", "pixels unlabeled", "embeddings unlabeled")

Thresholds = dict[tuple[str, str], float]  # (signal, scope) -> the similarity at and above which images match


def components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected-component label of each of n nodes joined by `pairs`."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) else \
        coo_matrix((n, n))
    return np.asarray(connected_components(graph, directed=False)[1])


def _best_link(n: int, kept: list[tuple[str, np.ndarray, np.ndarray]]) -> tuple[list[str | None], np.ndarray]:
    """Per image: the first signal that links it, and its highest similarity by that signal."""
    kind: list[str | None] = [None] * n
    best = np.full(n, -np.inf)
    for signal, pairs, sims in kept:
        top = np.full(n, -np.inf)
        for side in (0, 1):
            np.maximum.at(top, pairs[:, side], sims)
        for m in np.flatnonzero(np.isfinite(top)):
            if kind[m] is None:
                kind[m], best[m] = signal, top[m]
    return kind, best


def group_rows(pool: Pool, evidence: list[Evidence], thresholds: Thresholds) -> list[dict[str, Any]]:
    """One row per member of each near-duplicate group in the pool; the most confident stays."""
    n = len(pool.ids)
    kept = [(e.signal, e.pairs[e.similarity >= thresholds[e.signal, "unlabeled"]],
             e.similarity[e.similarity >= thresholds[e.signal, "unlabeled"]]) for e in evidence]
    pairs = np.concatenate([p for _, p, _ in kept]) if kept else np.zeros((0, 2), np.int64)
    labels = components(n, pairs)
    kind, best = _best_link(n, kept)
    ids = np.array(pool.ids, dtype=object)
    out = []
    for g in np.flatnonzero(np.bincount(labels, minlength=1) > 1):
        members = np.flatnonzero(labels == g)
        # the most confident member represents the group; ties go to the smallest image id
        rep = members[np.lexsort((ids[members], -pool.confidence[members]))[0]]
        out += [{"image_id": ids[m], "duplicate_of": ids[rep], "kind": kind[m], "scope": "unlabeled",
                 "similarity": float(best[m]) if m != rep else 1.0, "group_id": ids[rep], "excluded": bool(m != rep)}
                for m in members]
    return out


def _matches(ids: list[str], found: list[HeldOut], t: float) -> Iterator[tuple[int, HeldOut, str]]:
    """(index into ids, its HeldOut, the other image) for each match at or above t; a match with
    the same bytes is left out: an exact duplicate, reported as such."""
    for h in found:
        for i in np.flatnonzero((h.similarity >= t) & (h.best >= 0)):
            other = h.other_ids[h.best[i]]
            if other != ids[i]:
                yield int(i), h, other


def held_out_rows(pool: Pool, evidence: list[Evidence], thresholds: Thresholds) -> list[dict[str, Any]]:
    """Pool images at or above the held-out threshold to a val/test image (excluded) or train (reported)."""
    return [{"image_id": pool.ids[i], "duplicate_of": other, "kind": e.signal, "scope": h.split,
             "similarity": float(h.similarity[i]), "group_id": other, "excluded": h.split in HELD_OUT}
            for e in evidence for i, h, other in _matches(pool.ids, e.held_out, thresholds[e.signal, "held_out"])]


def labeled_rows(evidence: list[Evidence], thresholds: Thresholds) -> list[dict[str, Any]]:
    """Labeled train images at or above the held-out threshold to a val/test image: reported
    (scope train-val, train-test), never excluded: the teacher's val/test numbers count them."""
    return [{"image_id": e.labeled_ids[i], "duplicate_of": other, "kind": e.signal, "scope": f"train-{h.split}",
             "similarity": float(h.similarity[i]), "group_id": other, "excluded": False}
            for e in evidence for i, h, other in _matches(e.labeled_ids, e.labeled, thresholds[e.signal, "held_out"])]


def rule(row: dict[str, Any]) -> str:
    if row["kind"] == "exact":
        return "exact"
    return f"{row['kind']} {'held_out' if row['scope'] in HELD_OUT else row['scope']}"


def removed_by(rows: list[dict[str, Any]]) -> dict[str, set[Any]]:
    """Excluded images per rule, each counted once, under the first rule of RULES that removes it."""
    seen: set[Any] = set()
    out: dict[str, set[Any]] = {}
    for name in RULES:
        ids = {r["image_id"] for r in rows if r["excluded"] and rule(r) == name} - seen
        out[name] = ids
        seen |= ids
    return out
