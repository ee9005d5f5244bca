"""The model-independent signal: ingest fingerprints, searched with faiss, verified by alignment."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa

from plabel import db, distributed, fingerprints
from plabel.dedup.evidence import Evidence, HeldOut, Pool, pool_pairs, top_two
from plabel.dedup.search import by_rank, search, shared_index
from plabel.dedup.synthetic import sampled_copies
from plabel.images import RejectedImage, load_rgb
from plabel.queries import query
from plabel.workspace import HELD_OUT

if TYPE_CHECKING:
    from plabel.dedup.options import DedupOptions
    from plabel.workspace import Workspace


class Thumbnails:
    """Fingerprints of some images; those ingested before fingerprints existed are made here."""

    def __init__(self, ws: Workspace, con: duckdb.DuckDBPyConnection) -> None:
        self.ws, self.con = ws, con
        self.made: list[dict[str, Any]] = []  # fingerprints made here, for the table
        self.unreadable = 0

    def of(self, ids: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(n, 32, 32) thumbnails of `ids`, (n, 3) mean colours (NaN: unknown), and a mask of the
        ids that have a thumbnail."""
        with db.registered(self.con, "wanted", pa.table({"image_id": pa.array(ids, pa.string())})):
            rows = db.rows(self.con, query("dedup/fingerprints"))
        sources = [self.ws.source(*r[1:5]) for r in rows]
        found = {r[0]: (source, r[5], r[6]) for r, source in zip(rows, sources, strict=True)}
        blank = bytes(fingerprints.THUMBNAIL_BYTES)
        thumbs, colours, ok = [], np.full((len(ids), 3), np.nan), np.ones(len(ids), bool)
        for k, image_id in enumerate(ids):
            path, thumb, colour = found.get(image_id, (None, None, None))
            if thumb is not None and len(thumb) != fingerprints.THUMBNAIL_BYTES:
                thumb = None  # a crafted or damaged row: made again from the file
            if thumb is None and path is not None:
                thumb, colour = self._make(image_id, path)
            ok[k] = thumb is not None
            thumbs.append(thumb or blank)
            if colour is not None and len(colour) == 3:
                colours[k] = colour
        return fingerprints.as_arrays(thumbs), colours, ok

    def _make(self, image_id: str, path: str) -> tuple[bytes | None, list[float] | None]:
        try:
            thumb, colour = fingerprints.fingerprint(load_rgb(path))
        except (RejectedImage, OSError):
            self.unreadable += 1
            return None, None
        self.made.append({"image_id": image_id, "thumbnail": thumb, "colour": colour})
        return thumb, colour


def _matched(queries: np.ndarray, base: np.ndarray, k: int, exact_limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Each query's k nearest fingerprints in `base` (faiss, blurred vectors) and their aligned
    similarity (verified pixel by pixel); under torchrun each rank takes its share of the queries."""
    if len(queries) == 0 or len(base) == 0:
        none = np.full((len(queries), 1), -1, np.int64)
        return none, np.full(none.shape, -1.0)
    index, _ = shared_index(fingerprints.search_vectors(base), exact_limit)
    centres = fingerprints.centre(base)

    def part(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        _, nbrs = search(index, fingerprints.search_vectors(queries[rows]), min(k, len(base)))
        return nbrs, fingerprints.verify(queries[rows], centres, nbrs, threads=distributed.cores())

    nbrs, sims = by_rank(len(queries), part)
    return nbrs, sims


def positives(ws: Workspace, pool: Pool, thumbs: np.ndarray, colours: np.ndarray,
              o: DedupOptions) -> tuple[np.ndarray, Tolerance]:
    """Aligned similarity of synthetic copies of sampled pool images to their fingerprints, and
    how far the copies' colour and brightness stray from their originals'."""
    if o.pixel_similarity is not None:
        return np.zeros(0), Tolerance()
    sims, chroma, bright = [], [], []
    for i, _, copied in sampled_copies(ws, pool, o.sample, o.seed):
        made = [fingerprints.fingerprint(v) for v in copied]
        copies = fingerprints.as_arrays([t for t, _ in made])
        sims += list(fingerprints.aligned_similarity_many(copies, fingerprints.centre(thumbs[i: i + 1])[0]))
        made_colours = np.array([c for _, c in made])
        chroma += list(fingerprints.chroma_distance(made_colours, colours[i]))
        bright += list(fingerprints.brightness_distance(made_colours, colours[i]))
    return np.array(sims, np.float64), Tolerance(_tolerance(chroma), _tolerance(bright))


@dataclass(frozen=True)
class Tolerance:
    """How far apart in colour and in brightness a pair may be and still be flagged: all but
    0.1% of the synthetic copies stay within (infinite: no limit)."""

    colour: float = float("inf")
    brightness: float = float("inf")

    def far(self, colours: np.ndarray, other: np.ndarray) -> np.ndarray:
        """Pairs further apart than copies ever are."""
        return ((fingerprints.chroma_distance(colours, other) > self.colour)
                | (fingerprints.brightness_distance(colours, other) > self.brightness))


def _tolerance(distances: list[float]) -> float:
    d = np.asarray(distances, np.float64)
    d = d[np.isfinite(d)]
    return float(np.quantile(d, 0.999)) if len(d) else float("inf")


def _veto(sims: np.ndarray, colours: np.ndarray, other: np.ndarray, nbrs: np.ndarray,
          tolerance: Tolerance) -> np.ndarray:
    """Candidates whose colour or brightness is further from the query's than copies ever are:
    not duplicates."""
    far = tolerance.far(colours[:, None, :], other[np.maximum(nbrs, 0)])
    return np.where(far, -1.0, sims)


def evidence(ws: Workspace, con: duckdb.DuckDBPyConnection, pool: Pool, others: dict[str, list[str]],
             o: DedupOptions) -> tuple[Evidence, Thumbnails]:
    """Pixel evidence: pool pairs, nearest val/test/train images, synthetic positives."""
    store = Thumbnails(ws, con)
    thumbs, colours, ok = store.of(pool.ids)
    made, tolerance = positives(ws, pool, thumbs, colours, o)
    live = np.flatnonzero(ok)
    nbrs, sims = _matched(thumbs[live], thumbs[live], o.neighbours + 1, o.exact_limit)
    sims = _veto(sims, colours[live], colours[live], nbrs, tolerance)
    pairs, similarity, nearest_live = pool_pairs(sims, nbrs)
    nearest, second = np.full(len(pool.ids), -1.0), np.full(len(pool.ids), -1.0)
    nearest[live] = nearest_live
    own = nbrs == np.arange(len(live))[:, None]
    second[live] = top_two(np.where(own | (nbrs < 0), -1.0, sims))[1]
    ev = Evidence("pixels", live[pairs] if len(pairs) else pairs, similarity, nearest, made, second=second,
                  colour_tolerance=tolerance.colour, brightness_tolerance=tolerance.brightness)
    for split, ids in others.items():
        ev.held_out.append(_against((thumbs, colours, ok), split, ids, store, o, tolerance))
    ev.labeled_ids = others.get("train", [])
    if ev.labeled_ids:
        train = store.of(ev.labeled_ids)
        ev.labeled = [_against(train, split, ids, store, o, tolerance) for split, ids in others.items()
                      if split in HELD_OUT]
    return ev, store


def _against(pool: tuple[Any, ...], split: str, ids: list[str], store: Thumbnails, o: DedupOptions,
             tolerance: Tolerance) -> HeldOut:
    thumbs, colours, ok = pool
    other, other_colours, other_ok = store.of(ids)
    keep = np.flatnonzero(other_ok)
    best, sim = np.full(len(thumbs), -1), np.full(len(thumbs), -1.0)
    second = np.full(len(thumbs), -1.0)
    if len(keep) and ok.any():
        live = np.flatnonzero(ok)
        nbrs, sims = _matched(thumbs[live], other[keep], o.neighbours, o.exact_limit)
        sims = _veto(sims, colours[live], other_colours[keep], nbrs, tolerance)
        top = sims.argmax(axis=1)
        best[live] = np.where(sims.max(axis=1) > -1, keep[nbrs[np.arange(len(live)), top]], -1)
        sim[live], second[live] = top_two(sims)
    return HeldOut(split, ids, best, sim, second)
