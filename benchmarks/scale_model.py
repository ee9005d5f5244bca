"""The data side's cost model, measured here, and what it projects for 100M and 1B images.

Measured on this machine, one core unless said (synthetic data: smooth random PNGs, their 32x32
fingerprints, and random unit vectors for the index):
- ingest: probing a file (read, SHA-256, full decode, fingerprint) per image; the commit's cost
  per row (rank 0 alone: DuckDB's known-path check and the Parquet writes) and the staged
  commit's extra read of the units;
- dedup: the blurred search vector per image; faiss search per query against a flat index
  (linear in the pool) and an IVF index (nprobe 16 of 4 sqrt(N) lists: about 8 sqrt(N) vectors
  compared), at two sizes each, fitted; the product-quantised variant's speed and recall at one
  size; verification of a query's 17 candidates; an IVF build per vector.
- per-rank overheads at 2 ranks are read from ingest_scale.py and dedup_scale.py --nproc (the
  launcher's start and the gather of every answer), given here as arguments.

The projection runs the model for a pool size, nodes and cores per node: wall time per stage,
memory per node (thumbnails and search vectors every rank holds, the index each node holds, the
answers gathered on every rank) and index size. It states what breaks first.

    python benchmarks/scale_model.py [--nodes 1,8,64] [--cores 32] [--memory-gb 256]
"""
from __future__ import annotations

import argparse
import io
import math
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, report  # noqa: E402

THUMB_BYTES = 32 * 32  # a fingerprint's thumbnail
VECTOR_BYTES = 256 * 4  # a search vector (16x16 float32)
ANSWER_BYTES = 17 * (8 + 8)  # a query's candidates and their similarities, gathered on every rank
PATH_BYTES = 120  # a known path in DuckDB's temporary table (a typical absolute path and its hash)


def per_call(fn, n: int) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) / n


def pngs(n: int, size: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        base = rng.integers(0, 256, (size // 4, size // 4, 3), dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(base).resize((size, size), Image.Resampling.BILINEAR).save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def ingest_costs(tmp: Path, size: int) -> dict:
    """Seconds per image: probing (one core), the commit per row, the staged commit's reread."""
    import pyarrow.parquet as pq

    from plabel.ingest.batches import flush, probed, remember_known
    from plabel.ingest.options import Candidate, IngestResult
    from plabel.progress import NULL
    from plabel.workspace import init_workspace

    n = 3000
    folder = tmp / f"png{size}"
    folder.mkdir()
    for k, data in enumerate(pngs(n, size)):
        (folder / f"{k:05d}.png").write_bytes(data)
    cands = [Candidate(str(p), str(p), "unlabeled") for p in sorted(folder.iterdir())]
    ws = init_workspace(tmp / f"ws{size}")
    result = IngestResult(ingest_id="model", source=str(folder))
    with ws.connect() as con:
        remember_known(con)
        task = NULL.task("probe", n, "files")
        start = time.perf_counter()
        batches = [b for _, bs in probed(con, [(0, cands)], 1, 10**9, result, task) for b in bs]
        probe = (time.perf_counter() - start) / n
        commit = per_call(lambda: flush(ws, con, batches, result, __import__("collections").Counter()), n)
    staged = tmp / f"unit{size}.parquet"
    import pyarrow as pa

    pq.write_table(pa.Table.from_batches(batches), staged)
    reread = per_call(lambda: pq.read_table(staged), n)
    return {"probe_s": probe, "commit_s": commit, "staged_reread_s": reread}


def vectors(n: int, d: int = 256, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def search_costs(flat_sizes: list[int], ivf_sizes: list[int], queries: int) -> dict:
    """Per-query search seconds (one thread) at each size; IVF build per vector; PQ recall."""
    import faiss

    from plabel.dedup.search import build_index

    faiss.omp_set_num_threads(1)
    out: dict = {"flat": {}, "ivf": {}}
    for n in flat_sizes:
        x = vectors(n)
        index, _ = build_index(x, exact_limit=n)
        faiss.omp_set_num_threads(1)
        out["flat"][n] = per_call(lambda index=index, x=x: index.search(x[:queries], 17), queries)
    for n in ivf_sizes:
        x = vectors(n)
        start = time.perf_counter()
        index, _ = build_index(x, exact_limit=0, threads=1)
        out.setdefault("ivf_build_s", {})[n] = (time.perf_counter() - start) / n  # one core
        faiss.omp_set_num_threads(1)
        out["ivf"][n] = per_call(lambda index=index, x=x: index.search(x[:queries], 17), queries)
    n = ivf_sizes[-1]
    x = vectors(n)
    x[1::2] = x[0::2] + 0.05 * vectors(n // 2, seed=1)  # half the pool: close copies of the other half
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    pq_index, name = build_index(x, exact_limit=0, compressed_limit=0)
    faiss.omp_set_num_threads(1)
    q = x[0:2 * queries:2]
    out["pq"] = {"size": n, "index": name, "search_s": per_call(lambda: pq_index.search(q, 17), queries),
                 "copy_recall_at_17": float(np.mean((pq_index.search(q, 17)[1] ==
                                                     np.arange(1, 2 * queries, 2)[:, None]).any(axis=1))),
                 "bytes_per_vector": int(name.split(",pq")[1].split(",")[0]) + 8}
    return out


def fingerprint_costs(n: int = 2000) -> dict:
    from plabel import fingerprints

    thumbs = np.stack([np.asarray(Image.open(io.BytesIO(b)).convert("L").resize((32, 32))) for b in pngs(n, 32)])
    vec = per_call(lambda: fingerprints.search_vectors(thumbs), n)
    cands = np.random.default_rng(0).integers(0, n, (n, 17))
    centres = fingerprints.centre(thumbs)
    verify = per_call(lambda: fingerprints.verify(thumbs, centres, cands), n)
    return {"search_vector_s": vec, "verify_s": verify}


def fit(costs: dict[int, float], shape) -> float:
    """The constant c of cost = c * shape(N), least squares over the measured sizes."""
    xs = np.array([shape(n) for n in costs])
    ys = np.array(list(costs.values()))
    return float(xs @ ys / (xs @ xs))


def fit_sqrt(costs: dict[int, float]) -> tuple[float, float]:
    """(a, b) of cost = a + b * sqrt(N) through the measured sizes: an IVF query compares about
    8 sqrt(N) vectors (4 sqrt(N) centroids, then 16 of the lists), and building adds each vector
    to its nearest of 4 sqrt(N) lists after a k-means whose cost per vector is constant."""
    b, a = np.polyfit([math.sqrt(n) for n in costs], list(costs.values()), 1)
    return max(float(a), 0.0), max(float(b), 0.0)


def project(pool: int, nodes: int, cores: int, per_node: int, c: dict, launch_s: float) -> dict:
    """Wall seconds per stage and gigabytes per node for `per_node` ranks on each node's `cores`:
    probing workers, faiss and verification threads use every core; search vectors one a rank."""
    ranks = nodes * per_node
    compressed = pool > 20_000_000
    root = math.sqrt(pool)
    query_s = (c["ivf_a"] + c["ivf_b"] * root) * (c["pq_vs_ivf"] if compressed else 1.0)  # one thread
    index_bytes = pool * (c["pq_bytes"] if compressed else VECTOR_BYTES + 8)
    stages = {
        "ingest_probe_s": pool * c["probe_s"] / (nodes * cores),
        "ingest_commit_s": pool * (c["commit_s"] + c["staged_reread_s"]),  # rank 0 alone
        "dedup_vectors_s": pool * c["search_vector_s"] / ranks,
        "dedup_index_s": pool * (c["build_a"] + c["build_b"] * root) / cores,  # rank 0, the node's cores
        "dedup_search_s": pool * query_s / (nodes * cores),
        "dedup_verify_s": pool * c["verify_s"] / (nodes * cores),  # threads over the rank's share
        "launch_s": launch_s,
    }
    memory = {  # per node: every rank holds every thumbnail, search vector, the index and every answer
        "thumbnails_and_vectors_gb": per_node * pool * (THUMB_BYTES + VECTOR_BYTES) / 1e9,
        "index_gb": per_node * index_bytes / 1e9,
        "gathered_answers_gb": per_node * pool * ANSWER_BYTES / 1e9,
        "known_paths_gb_rank0": pool * PATH_BYTES / 1e9,
    }
    return {"pool": pool, "nodes": nodes, "cores_per_node": cores, "ranks_per_node": per_node,
            "index": "ivf-pq" if compressed else "ivf", **{k: round(v) for k, v in stages.items()},
            "total_h": round(sum(stages.values()) / 3600, 2), **{k: round(v, 1) for k, v in memory.items()}}


def main() -> None:
    import tempfile

    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", default="1,8,64")
    ap.add_argument("--cores", type=int, default=32, help="cores (ranks) per node in the projection")
    ap.add_argument("--memory-gb", type=float, default=256, help="memory per node in the projection")
    ap.add_argument("--launch-s", type=float, default=2.5, help="torchrun's start (ingest_scale.py: wall - seconds)")
    ap.add_argument("--flat", default="20000,80000")
    ap.add_argument("--ivf", default="100000,400000")
    ap.add_argument("--queries", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ingest = ingest_costs(Path(tmp), 64)
    fp = fingerprint_costs()
    s = search_costs([int(v) for v in args.flat.split(",")], [int(v) for v in args.ivf.split(",")], args.queries)
    (ivf_a, ivf_b), (build_a, build_b) = fit_sqrt(s["ivf"]), fit_sqrt(s["ivf_build_s"])
    c = {**ingest, **fp, "flat_c": fit(s["flat"], float), "ivf_a": ivf_a, "ivf_b": ivf_b, "build_a": build_a,
         "build_b": build_b, "pq_vs_ivf": s["pq"]["search_s"] / s["ivf"][max(s["ivf"])],
         "pq_bytes": s["pq"]["bytes_per_vector"]}
    report("scale_model_costs", machine=machine(), **{k: v for k, v in c.items()},
           flat_query_s=s["flat"], ivf_query_s=s["ivf"], ivf_build_s_per_vector=s["ivf_build_s"], pq=s["pq"])
    for pool in (100_000_000, 1_000_000_000):
        for nodes in [int(v) for v in args.nodes.split(",")]:
            for per_node in (1, args.cores):
                p = project(pool, nodes, args.cores, per_node, c, args.launch_s)
                used = p["thumbnails_and_vectors_gb"] + p["index_gb"] + p["gathered_answers_gb"]
                report("scale_model_projection", **p, memory_gb_per_node=args.memory_gb,
                       fits_in_memory=used <= args.memory_gb)


if __name__ == "__main__":
    main()
