"""faiss search over unit vectors: exact inner product up to a size, IVF above it."""
from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from plabel.dedup.options import EXACT_SEARCH_LIMIT


def build_index(x: np.ndarray, exact_limit: int = EXACT_SEARCH_LIMIT, nprobe: int = 16) -> Any:
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


def search(index: Any, x: np.ndarray, k: int, batch: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    sims, ids = [], []
    for i in range(0, len(x), batch):
        s, j = index.search(x[i: i + batch], k)
        sims.append(s)
        ids.append(j)
    return np.concatenate(sims), np.concatenate(ids)
