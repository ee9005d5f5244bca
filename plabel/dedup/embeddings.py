"""The model's signal: one teacher's embeddings, the same for every round unless asked otherwise."""
from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import numpy as np

from plabel import db
from plabel.dedup.evidence import Evidence, HeldOut, Pool, pool_pairs
from plabel.dedup.search import shared_index, shared_search
from plabel.dedup.synthetic import sampled_copies
from plabel.errors import PlabelError, UsageError
from plabel.queries import query

if TYPE_CHECKING:
    from plabel.dedup.options import DedupOptions
    from plabel.workspace import Workspace


def embeddings_round(con: duckdb.DuckDBPyConnection, asked: int | None) -> int | None:
    """The round whose embeddings dedup compares: the asked one, else the first with any."""
    rounds = [r for (r,) in db.rows(con, query("dedup/embedding_rounds"))]
    if asked is None:
        return rounds[0] if rounds else None
    if asked not in rounds:
        raise UsageError(f"round {asked} has no unlabeled embeddings: run `plabel infer --round {asked} --embeddings`")
    return asked


def vectors(con: duckdb.DuckDBPyConnection, round: int, split: str) -> tuple[list[str], np.ndarray, str | None]:
    t = db.relation(con, query("dedup/embeddings"), {"round": round, "split": split}).to_arrow_table()
    if t.num_rows == 0:
        return [], np.zeros((0, 1), np.float32), None
    emb = t.column("embedding").combine_chunks()
    x = emb.values.to_numpy(zero_copy_only=False).astype(np.float32).reshape(t.num_rows, -1)
    return t.column("image_id").to_pylist(), x, t.column("checkpoint_id")[0].as_py()


def pool_search(x: np.ndarray, k: int, exact_limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs among the vectors with their cosine similarity, and each vector's nearest other."""
    index, _ = shared_index(x, exact_limit)
    sims, nbrs = shared_search(index, x, min(k + 1, len(x)))
    return pool_pairs(sims, nbrs)


def positives(ws: Workspace, pool: Pool, checkpoint_id: str, sample: int, seed: int) -> np.ndarray:
    """Cosine similarity of synthetic copies of sampled pool images to the originals, by the checkpoint."""
    import torch

    from plabel import checkpoints
    from plabel.infer import forward
    from plabel.models import eval_transform

    try:
        ckpt = checkpoints.find(ws, checkpoint_id)
    except PlabelError:  # embeddings from a checkpoint this workspace does not hold: nothing to calibrate on
        return np.zeros(0)
    model, tf = checkpoints.build_model(ckpt), eval_transform(ckpt.data_config)
    out: list[float] = []
    for _, original, copied in sampled_copies(ws, pool, sample, seed):
        images = [original, *copied]
        with torch.inference_mode():
            features = forward(model, torch.stack([tf(im) for im in images]), True)[1]
        assert features is not None  # asked for features
        f = features.numpy()
        out += list(f[1:] @ f[0])
    return np.array(out, np.float64)


def evidence(ws: Workspace, con: duckdb.DuckDBPyConnection, pool: Pool, others: list[str], round: int,
             o: DedupOptions) -> Evidence | None:
    """Embedding evidence from `round`'s features, or None when the pool has none there."""
    ids, x, checkpoint_id = vectors(con, round, "unlabeled")
    rows = np.array([pool.position.get(image_id, -1) for image_id in ids], dtype=np.int64)
    x = x[rows >= 0]
    live = rows[rows >= 0]
    if len(live) < 1 or checkpoint_id is None:
        return None
    pairs, sims, nearest_live = pool_search(x, o.neighbours, o.exact_limit)
    nearest = np.full(len(pool.ids), -1.0)
    nearest[live] = nearest_live
    needed = o.similarity is None or o.contamination_similarity is None
    made = positives(ws, pool, checkpoint_id, o.sample, o.seed) if needed else np.zeros(0)
    ev = Evidence("embeddings", live[pairs] if len(pairs) else pairs, sims, nearest, made, checkpoint_id=checkpoint_id)
    for split in others:
        other_ids, y, _ = vectors(con, round, split)
        best, sim = np.full(len(pool.ids), -1), np.full(len(pool.ids), -1.0)
        if other_ids:
            index, _ = shared_index(y, o.exact_limit)
            s, j = shared_search(index, x, 1)
            best[live], sim[live] = j[:, 0], s[:, 0]
        ev.held_out.append(HeldOut(split, other_ids, best, sim))
    return ev
