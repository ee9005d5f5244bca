"""faiss search over unit vectors: exact inner product up to a size, IVF above it; under torchrun
the queries are shared out over the ranks against one index, and the answers gathered back."""
from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from plabel import distributed
from plabel.dedup.options import COMPRESSED_SEARCH_LIMIT, EXACT_SEARCH_LIMIT


def build_index(x: np.ndarray, exact_limit: int = EXACT_SEARCH_LIMIT, nprobe: int = 16,
                compressed_limit: int = COMPRESSED_SEARCH_LIMIT, threads: int | None = None) -> Any:
    """Inner-product index over unit vectors: exact up to `exact_limit` vectors, IVF above it,
    with product-quantised lists above `compressed_limit` (candidates are verified exactly after
    the search, so the codes only decide which candidates come back). Searches run on `threads`
    (default: this process's share of the cores)."""
    import faiss

    faiss.omp_set_num_threads(threads or distributed.cores())
    d = x.shape[1]
    if len(x) <= exact_limit:
        flat = faiss.IndexFlatIP(d)
        flat.add(x)
        return flat, "flat"
    nlist = int(4 * math.sqrt(len(x)))
    quantizer = faiss.IndexFlatIP(d)
    index: Any
    if len(x) > compressed_limit:
        m = next(m for m in (32, 16, 8, 4, 2, 1) if d % m == 0)  # bytes a vector
        index = faiss.IndexIVFPQ(quantizer, d, nlist, m, 8, faiss.METRIC_INNER_PRODUCT)
        name = f"ivf{nlist},pq{m},nprobe{nprobe}"
    else:
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        name = f"ivf{nlist},nprobe{nprobe}"
    rng = np.random.default_rng(0)
    sample = x[rng.choice(len(x), min(len(x), max(64 * nlist, 256 * 40)), replace=False)]
    index.train(sample)
    index.add(x)
    index.nprobe = nprobe
    return index, name


def shared_index(x: np.ndarray, exact_limit: int = EXACT_SEARCH_LIMIT) -> Any:
    """build_index, the same on every rank: a flat index each rank builds (a copy of x); an IVF
    index rank 0 trains and sends (k-means on threads need not give every rank the same lists)."""
    if len(x) <= exact_limit or not distributed.active():
        return build_index(x, exact_limit)
    import faiss

    sent: tuple[Any, str] = (None, "")
    if distributed.is_main():  # the other ranks on this node wait: it trains on all of its cores
        index, name = build_index(x, exact_limit, threads=os.cpu_count() or 1)
        faiss.omp_set_num_threads(distributed.cores())  # searches: this rank's share again
        sent = (faiss.serialize_index(index), name)  # nprobe travels with it
    blob, name = distributed.broadcast(sent)
    return faiss.deserialize_index(blob), name


def search(index: Any, x: np.ndarray, k: int, batch: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    sims, ids = [], []
    for i in range(0, len(x), batch):
        s, j = index.search(x[i: i + batch], k)
        sims.append(s)
        ids.append(j)
    if not sims:
        return np.zeros((0, k), np.float32), np.zeros((0, k), np.int64)
    return np.concatenate(sims), np.concatenate(ids)


def by_rank(n: int, part: Callable[[np.ndarray], tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """`part` of the rows this rank takes (every world-th of n), gathered back into row order on
    every rank; `part` of every row where one process runs. Each row's answer depends on that row
    alone, so the arrays are those one process computes."""
    world = distributed.world()
    mine = part(np.arange(distributed.rank(), n, world))
    if world == 1:
        return mine
    parts = distributed.gather(mine)
    out = []
    for j, first in enumerate(mine):
        full = np.empty((n, *first.shape[1:]), first.dtype)
        for r, p in enumerate(parts):
            full[r::world] = p[j]
        out.append(full)
    return tuple(out)


def shared_search(index: Any, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """search, with the queries shared out over torchrun's ranks."""
    sims, ids = by_rank(len(x), lambda rows: search(index, x[rows], k))
    return sims, ids
