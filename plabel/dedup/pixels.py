"""The model-independent signal: ingest fingerprints, searched with faiss, verified by alignment."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from plabel import db, fingerprints
from plabel.dedup.evidence import Evidence, HeldOut, Pool, pool_pairs
from plabel.dedup.search import build_index, search
from plabel.dedup.synthetic import variants
from plabel.images import RejectedImage, load_rgb
from plabel.sql import query


class Thumbnails:
    """Fingerprints of some images; those ingested before fingerprints existed are made here."""

    def __init__(self, ws, con):
        self.ws, self.con = ws, con
        self.made: list[dict] = []  # fingerprints made here, for the table
        self.unreadable = 0

    def of(self, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(n, 32, 32) thumbnails of `ids`, and a mask of the ids that have one."""
        with db.registered(self.con, "wanted", pa.table({"image_id": pa.array(ids, pa.string())})):
            found = {r[0]: (r[1], r[2]) for r in db.rows(self.con, query("dedup/fingerprints"))}
        blank = bytes(fingerprints.THUMBNAIL_BYTES)
        out, ok = [], np.ones(len(ids), bool)
        for k, image_id in enumerate(ids):
            path, thumb = found.get(image_id, (None, None))
            if thumb is not None and len(thumb) != fingerprints.THUMBNAIL_BYTES:
                thumb = None  # a crafted or damaged row: made again from the file
            if thumb is None and path is not None:
                thumb = self._make(image_id, path)
            ok[k] = thumb is not None
            out.append(thumb or blank)
        return fingerprints.as_arrays(out), ok

    def _make(self, image_id: str, path: str) -> bytes | None:
        try:
            thumb = fingerprints.thumbnail(load_rgb(str(self.ws.resolve_path(path))))
        except (RejectedImage, OSError):
            self.unreadable += 1
            return None
        self.made.append({"image_id": image_id, "thumbnail": thumb})
        return thumb


def verify(queries: np.ndarray, centres: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Aligned similarity of each query thumbnail with each of its candidates (-1 where none)."""
    out = np.full(candidates.shape, -1.0)
    for i, row in enumerate(candidates):
        valid = row >= 0
        out[i, valid] = fingerprints.aligned_similarity(queries[i], centres[row[valid]])
    return out


def _candidates(queries: np.ndarray, base: np.ndarray, k: int, exact_limit: int) -> np.ndarray:
    if len(queries) == 0 or len(base) == 0:
        return np.full((len(queries), 1), -1, np.int64)
    index, _ = build_index(fingerprints.search_vectors(base), exact_limit)
    _, nbrs = search(index, fingerprints.search_vectors(queries), min(k, len(base)))
    return nbrs


def positives(ws, pool: Pool, thumbs: np.ndarray, sample: int, seed: int) -> np.ndarray:
    """Aligned similarity of synthetic copies of sampled pool images to their fingerprints."""
    rng = np.random.default_rng(seed)
    out = []
    for i in pool.sample(sample, seed):
        try:
            original = load_rgb(str(ws.resolve_path(pool.paths[i])))
        except (RejectedImage, OSError):
            continue
        copies = fingerprints.as_arrays([fingerprints.thumbnail(v) for v in variants(original, rng).values()])
        centre = fingerprints.centre(thumbs[i: i + 1])
        out += [float(fingerprints.aligned_similarity(c, centre)[0]) for c in copies]
    return np.array(out)


def evidence(ws, con, pool: Pool, others: dict[str, list[str]], o) -> tuple[Evidence, Thumbnails]:
    """Pixel evidence: pool pairs, nearest val/test/train images, synthetic positives."""
    store = Thumbnails(ws, con)
    thumbs, ok = store.of(pool.ids)
    live = np.flatnonzero(ok)
    nbrs = _candidates(thumbs[live], thumbs[live], o.neighbours + 1, o.exact_limit)
    sims = verify(thumbs[live], fingerprints.centre(thumbs[live]), nbrs)
    pairs, similarity, nearest_live = pool_pairs(sims, nbrs)
    nearest = np.full(len(pool.ids), -1.0)
    nearest[live] = nearest_live
    made = positives(ws, pool, thumbs, o.sample, o.seed) if o.pixel_similarity is None else np.zeros(0)
    ev = Evidence("pixels", live[pairs] if len(pairs) else pairs, similarity, nearest, made)
    for split, ids in others.items():
        ev.held_out.append(_against(thumbs, ok, split, ids, store, o))
    return ev, store


def _against(thumbs: np.ndarray, ok: np.ndarray, split: str, ids: list[str], store: Thumbnails, o) -> HeldOut:
    other, other_ok = store.of(ids)
    keep = np.flatnonzero(other_ok)
    best, sim = np.full(len(thumbs), -1), np.full(len(thumbs), -1.0)
    if len(keep) and ok.any():
        live = np.flatnonzero(ok)
        nbrs = _candidates(thumbs[live], other[keep], o.neighbours, o.exact_limit)
        sims = verify(thumbs[live], fingerprints.centre(other[keep]), nbrs)
        top = sims.argmax(axis=1)
        best[live] = np.where(sims.max(axis=1) > -1, keep[nbrs[np.arange(len(live)), top]], -1)
        sim[live] = sims.max(axis=1)
    return HeldOut(split, ids, best, sim)
