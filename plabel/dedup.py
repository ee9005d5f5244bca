"""`plabel dedup`: exact and near duplicates of the unlabeled pool, and contamination.

Exact duplicates are images with the same content id: within a split they were merged at
ingest (aliases); across splits (an unlabeled image that is also a test image) they are found
here. Near duplicates come from round R's embeddings with faiss: cosine similarity at or above
the threshold, within the unlabeled pool (grouped; the most confident member of each group is
kept) and between unlabeled images and val/test images (contamination: never trained on) or
labeled train images (reported only).
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa

from plabel import db, storage
from plabel.errors import UnknownRound, UsageError, check_finite
from plabel.progress import NULL, Progress
from plabel.schema import table
from plabel.sql import query
from plabel.workspace import HELD_OUT, Workspace

DEFAULT_SIMILARITY = 0.995  # measured: see docs/selection.md, "Choosing the similarity threshold"
EXACT_SEARCH_LIMIT = 200_000  # vectors; above it an IVF index (recall measured in docs/benchmarks.md)
NEIGHBOURS = 16



@dataclass
class DedupResult:
    round: int
    similarity: float
    exact: int  # unlabeled images whose bytes are also in val/test/train
    near_groups: int
    near_members: int  # unlabeled images in near-duplicate groups (representatives included)
    contaminated: int  # unlabeled images excluded for val/test (exact or near)
    train_duplicates: int
    excluded: int
    index: str
    searched: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _vectors(con, round: int, split: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    t = db.relation(con, query("dedup/embeddings"), [round, split]).to_arrow_table()
    if t.num_rows == 0:
        return [], np.zeros((0, 0), np.float32), np.zeros(0, np.float32)
    emb = t.column("embedding").combine_chunks()
    dim = len(emb[0])
    x = emb.values.to_numpy(zero_copy_only=False).astype(np.float32).reshape(-1, dim)
    return t.column("image_id").to_pylist(), x, t.column("confidence").to_numpy(zero_copy_only=False)


def build_index(x: np.ndarray, exact_limit: int = EXACT_SEARCH_LIMIT, nprobe: int = 16):
    """Inner-product index over unit vectors: exact below `exact_limit` vectors, else IVF."""
    import faiss

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    d = x.shape[1]
    if len(x) <= exact_limit:
        flat = faiss.IndexFlatIP(d)
        flat.add(x)
        return flat, "flat"
    nlist = int(4 * math.sqrt(len(x)))
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)
    sample = x[rng.choice(len(x), min(len(x), 64 * nlist), replace=False)]
    index.train(sample)
    index.add(x)
    index.nprobe = nprobe
    return index, f"ivf{nlist},nprobe{nprobe}"


def _search(index, x: np.ndarray, k: int, batch: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    sims, ids = [], []
    for i in range(0, len(x), batch):
        s, j = index.search(x[i: i + batch], k)
        sims.append(s)
        ids.append(j)
    return np.concatenate(sims), np.concatenate(ids)


def near_groups(ids: list[str], x: np.ndarray, confidence: np.ndarray, threshold: float, k: int = NEIGHBOURS,
                exact_limit: int = EXACT_SEARCH_LIMIT) -> tuple[list[dict], str]:
    """Groups of near duplicates within one set of vectors; one representative each."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if len(ids) < 2:
        return [], "none"
    index, kind = build_index(x, exact_limit)
    sims, nbrs = _search(index, x, min(k + 1, len(ids)))
    rows = np.repeat(np.arange(len(ids)), nbrs.shape[1])
    cols, vals = nbrs.reshape(-1), sims.reshape(-1)
    keep = (cols >= 0) & (cols != rows) & (vals >= threshold)
    graph = coo_matrix((np.ones(keep.sum()), (rows[keep], cols[keep])), shape=(len(ids), len(ids)))
    _, labels = connected_components(graph, directed=False)
    return _group_rows(ids, x, confidence, labels), kind


def _group_rows(ids: list[str], x: np.ndarray, confidence: np.ndarray, labels: np.ndarray) -> list[dict]:
    """One row per member of each connected group of two or more."""
    sizes = np.bincount(labels)
    out = []
    order = np.array(ids, dtype=object)
    for g in np.flatnonzero(sizes > 1):
        members = np.flatnonzero(labels == g)
        # the most confident member represents the group; ties go to the smallest image id
        rep = members[np.lexsort((order[members], -confidence[members]))[0]]
        for m in members:
            out.append({
                "image_id": ids[m], "duplicate_of": ids[rep], "kind": "near", "scope": "unlabeled",
                "similarity": float(x[m] @ x[rep]) if m != rep else 1.0, "group_id": ids[rep],
                "excluded": bool(m != rep),
            })
    return out


def cross_duplicates(ids: list[str], x: np.ndarray, other: tuple[list[str], np.ndarray], scope: str,
                     threshold: float, exact_limit: int = EXACT_SEARCH_LIMIT) -> list[dict]:
    """Unlabeled images whose nearest `scope` image (of `other`: ids and vectors) is at or above the threshold."""
    other_ids, y = other
    if not ids or not other_ids:
        return []
    index, _ = build_index(y, exact_limit)
    sims, nbrs = _search(index, x, 1)
    out = []
    for i in np.flatnonzero((sims[:, 0] >= threshold) & (nbrs[:, 0] >= 0)):
        other = other_ids[nbrs[i, 0]]
        if other == ids[i]:
            continue  # the same bytes: an exact duplicate, reported as such
        out.append({"image_id": ids[i], "duplicate_of": other, "kind": "near", "scope": scope,
                    "similarity": float(sims[i, 0]), "group_id": other, "excluded": scope in HELD_OUT})
    return out


@dataclass(frozen=True)
class DedupOptions:
    similarity: float | None = None  # near duplicates at or above it (None: DEFAULT_SIMILARITY)
    neighbours: int = NEIGHBOURS  # nearest neighbours searched per image
    exact_limit: int = EXACT_SEARCH_LIMIT  # vectors up to which search is exact; above, IVF


def dedup(ws: Workspace, round: int, options: DedupOptions | None = None, progress: Progress = NULL,
          **keywords) -> DedupResult:
    """Find round R's duplicates and write them to the `duplicates` table (replacing any).

    Options come as a DedupOptions, or as its fields by keyword: `dedup(ws, 0, similarity=0.99)`.
    """
    started = time.perf_counter()
    o = replace(options or DedupOptions(), **keywords)
    similarity, neighbours, exact_limit = o.similarity, o.neighbours, o.exact_limit
    check_finite(o)
    threshold = DEFAULT_SIMILARITY if similarity is None else similarity
    if not -1 <= threshold <= 1:
        raise UsageError("--similarity must be in [-1, 1] (cosine similarity)")
    if neighbours < 1:
        raise UsageError("--neighbours must be >= 1")
    if not ws.round_dir("predictions", round).exists():
        raise UnknownRound(f"round {round} has no predictions: run `plabel infer --round {round}` first")
    has_embeddings = ws.round_dir("embeddings", round).exists()
    if similarity is not None and not has_embeddings:
        raise UsageError(f"round {round} has no embeddings to compare: run `plabel infer --round {round} --embeddings`")
    result = DedupResult(round, threshold, 0, 0, 0, 0, 0, 0, "none")
    con = ws.connect()
    try:
        exact = db.relation(con, query("dedup/exact")).to_arrow_table().to_pylist()
        if has_embeddings:
            rows = exact + _near(con, result, neighbours, exact_limit, progress)
        else:
            rows = exact
            result.notes.append(
                f"round {round} has no embeddings: only exact duplicates were searched (infer --embeddings)"
            )
    finally:
        con.close()
    _count(result, exact, rows)
    with ws.writing(f"plabel dedup --round {round}"):
        _write(ws, round, rows)
    result.seconds = time.perf_counter() - started
    return result


def _near(con, result: DedupResult, neighbours: int, exact_limit: int, progress: Progress) -> list[dict]:
    """Near duplicates within the unlabeled pool and against the other splits' embeddings."""
    round, threshold = result.round, result.similarity
    task = progress.task(f"dedup round {round}", None, "steps")
    ids, x, conf = _vectors(con, round, "unlabeled")
    result.searched["unlabeled"] = len(ids)
    rows, result.index = near_groups(ids, x, conf, threshold, neighbours, exact_limit)
    task.advance(1)
    others = {r[0] for r in db.rows(con, query("dedup/other_splits"), [round])}
    for split in ("val", "test", "train"):
        if split not in others:
            if split != "train":
                result.notes.append(f"no {split} embeddings in round {round}: near contamination with {split} "
                                    f"not checked (infer --split {split} --embeddings)")
            continue
        oids, y, _ = _vectors(con, round, split)
        result.searched[split] = len(oids)
        rows += cross_duplicates(ids, x, (oids, y), split, threshold, exact_limit)
        task.advance(1)
    task.close()
    return rows


def _count(result: DedupResult, exact: list[dict], rows: list[dict]) -> None:
    result.exact = len({r["image_id"] for r in exact})
    near = [r for r in rows if r["kind"] == "near" and r["scope"] == "unlabeled"]
    result.near_members = len(near)
    result.near_groups = len({r["group_id"] for r in near})
    result.contaminated = len({r["image_id"] for r in rows if r["scope"] in HELD_OUT})
    result.train_duplicates = len({r["image_id"] for r in rows if r["scope"] == "train"})
    result.excluded = len({r["image_id"] for r in rows if r["excluded"]})


def _write(ws: Workspace, round: int, rows: list[dict]) -> None:
    schema = table("duplicates")
    data = pa.Table.from_pylist(rows, schema=schema.arrow_schema())
    data = data.sort_by([("image_id", "ascending"), ("scope", "ascending"), ("duplicate_of", "ascending")])
    staging = ws.fresh_staging("duplicates", round)
    storage.write_arrow(data, staging / "duplicates.parquet", schema)
    ws.commit_round("duplicates", round, staging)
