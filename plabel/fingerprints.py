"""Model-independent image fingerprints: a small grey thumbnail, and how alike two of them are.

Ingest keeps a 32x32 grey thumbnail of every image (1 KiB) and its mean colour, made from the
pixels it decodes anyway. Two images are compared by the best normalised correlation of one's centre with the
other's, over small shifts (+-2 thumbnail pixels) and zooms (0.9-1.1, in 3% steps): a re-encoded, resized,
slightly cropped, shifted or brightened copy correlates at ~0.99 or more, while two distinct
digits of one class, or two crops of one texture, rarely do. Two smooth crops of different
colour, or two crops of one edge at different brightness, can correlate as well as copies;
their chromaticity and mean brightness tell them apart. Perceptual hashes (pHash, dHash)
were measured first and could not tell a shifted 28-pixel digit from a different one
(docs/benchmarks.md, "Duplicate detection quality"), so search and verification work on these
thumbnails instead: a blurred 16x16 vector finds candidates with faiss, the aligned correlation
decides.
"""
from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image, ImageFilter

from plabel.images import to_rgb

SIZE = 32  # thumbnail side, pixels
THUMBNAIL_BYTES = SIZE * SIZE
SHIFT = 2  # largest shift searched, thumbnail pixels
SCALES = tuple(n / 32 for n in range(29, 36))  # zooms searched, ~3% apart: a 5% crop is a 1.05 zoom
WINDOW = SIZE - 2 * (SHIFT + 2)  # side of the compared centre window (24)
ANGLES = (-5.0, -2.5, 2.5, 5.0)  # rotations searched, degrees (at zoom 1): a 3-5 degree skew is within 1.25
SEARCH_SIDE = 16  # side of the blurred vector that finds candidates
BLUR = 1.0  # Gaussian sigma, thumbnail pixels, before comparing: JPEG blocks and resampling drop out


def fingerprint(im: Image.Image) -> tuple[bytes, list[float]]:
    """What ingest keeps: a 32x32 grey thumbnail (orientation applied, aspect ratio squashed) and
    the mean red, green and blue (the thumbnail's correlation cannot see colour)."""
    rgb = to_rgb(im).resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    colour = np.asarray(rgb, np.float64).reshape(-1, 3).mean(axis=0)
    return rgb.convert("L").tobytes(), [float(c) for c in colour]


def chroma_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """L1 distance of the colours' chromaticities (r, g, b over their sum): brightness drops out."""
    def chroma(c: np.ndarray) -> np.ndarray:
        c = np.asarray(c, np.float64)
        return np.asarray((c + 1) / (c + 1).sum(axis=-1, keepdims=True))

    return np.asarray(np.abs(chroma(a) - chroma(b)).sum(axis=-1))


def brightness_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Absolute log ratio of the colours' mean brightness (+1, so black is finite): the thumbnail's
    correlation cannot see brightness either, and two crops of one edge differ in it."""
    def log_luma(c: np.ndarray) -> np.ndarray:
        return np.asarray(np.log(np.asarray(c, np.float64).mean(axis=-1) + 1))

    return np.asarray(np.abs(log_luma(a) - log_luma(b)))


def as_arrays(thumbnails: list[bytes]) -> np.ndarray:
    """Stack thumbnails into an (n, 32, 32) uint8 array."""
    if not thumbnails:
        return np.zeros((0, SIZE, SIZE), np.uint8)
    return np.frombuffer(b"".join(thumbnails), np.uint8).reshape(-1, SIZE, SIZE)


def _unit(x: np.ndarray) -> np.ndarray:
    """Zero-mean, unit-norm rows (a flat row stays zero): brightness and contrast drop out."""
    x = x - x.mean(axis=-1, keepdims=True)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norm > 0, norm, 1)


def search_vectors(thumbs: np.ndarray) -> np.ndarray:
    """Blurred 16x16 unit vectors: a candidate's similarity tolerates shifts, for faiss."""
    out = np.empty((len(thumbs), SEARCH_SIDE * SEARCH_SIDE), np.float32)
    for i, t in enumerate(thumbs):
        im = Image.fromarray(t).filter(ImageFilter.GaussianBlur(2)).resize((SEARCH_SIDE,) * 2, Image.Resampling.BOX)
        out[i] = np.asarray(im, np.float32).ravel()
    return _unit(out)


@cache
def _bilinear(scale: float) -> np.ndarray:
    """(32, 32) matrix: one axis zoomed about the centre, bilinear, edges repeated beyond the image.

    Every other zoom is centred half a pixel off: the shift search moves whole pixels, and a copy
    cropped by an odd number of pixels sits half a pixel off (a 28-pixel digit loses a stroke's
    worth of correlation to that half pixel)."""
    i = np.arange(SIZE)
    half = 0.5 * (round(scale * SIZE) % 2)
    src = np.clip((i + 0.5 - SIZE / 2) / scale + SIZE / 2 - 0.5 + half, 0, SIZE - 1)
    lo = np.floor(src).astype(int)
    hi, w = np.minimum(lo + 1, SIZE - 1), src - lo
    m = np.zeros((SIZE, SIZE))
    np.add.at(m, (i, lo), 1 - w)
    np.add.at(m, (i, hi), w)
    return m


@cache
def _zooms() -> np.ndarray:
    """(len(SCALES), 32, 32) float32: per zoom, the axis operator zoom-then-blur. The zoom and the
    Gaussian blur are linear and separable, so a batch of thumbnails is transformed by two matrix
    products per zoom instead of an image resize per thumbnail."""
    d = np.arange(SIZE)[:, None] - np.arange(SIZE)[None, :]
    blur = np.exp(-(d**2) / (2 * BLUR**2))
    blur /= blur.sum(axis=1, keepdims=True)
    return np.stack([blur @ _bilinear(s) for s in SCALES]).astype(np.float32)


def _zoomed(thumbs: np.ndarray, zooms: np.ndarray) -> np.ndarray:
    """(n, z, 32, 32): every thumbnail under every zoom operator."""
    x = thumbs.astype(np.float32)[:, None]
    return np.asarray(zooms[None] @ x @ np.swapaxes(zooms, 1, 2)[None])


def centre(thumbs: np.ndarray) -> np.ndarray:
    """(n, 576) unit vectors of each thumbnail's centre window, unshifted and unzoomed."""
    o = SHIFT + 2
    if len(thumbs) == 0:
        return np.zeros((0, WINDOW * WINDOW), np.float32)
    z = _zoomed(thumbs, _zooms()[SCALES.index(1.0)][None])[:, 0]
    return _unit(z[:, o:o + WINDOW, o:o + WINDOW].reshape(len(thumbs), -1))


@cache
def _rotations() -> list[Any]:
    """Per angle of ANGLES, the bilinear rotation about the centre (edges repeated) as a sparse
    (1024, 1024) matrix on a flattened thumbnail: four weights a row. Applied after the separable
    blur, so a rotation costs a sparse product, not a dense 1024 x 1024 one."""
    from scipy.sparse import csr_matrix

    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    c = (SIZE - 1) / 2
    out = []
    for angle in ANGLES:
        a = np.deg2rad(angle)
        sx = np.clip(np.cos(a) * (xs - c) - np.sin(a) * (ys - c) + c, 0, SIZE - 1).ravel()
        sy = np.clip(np.sin(a) * (xs - c) + np.cos(a) * (ys - c) + c, 0, SIZE - 1).ravel()
        x0, y0 = np.floor(sx).astype(int), np.floor(sy).astype(int)
        x1, y1, wx, wy = np.minimum(x0 + 1, SIZE - 1), np.minimum(y0 + 1, SIZE - 1), sx - x0, sy - y0
        rows = np.tile(np.arange(SIZE * SIZE), 4)
        cols = np.concatenate([y0 * SIZE + x0, y0 * SIZE + x1, y1 * SIZE + x0, y1 * SIZE + x1])
        weights = np.concatenate([(1 - wy) * (1 - wx), (1 - wy) * wx, wy * (1 - wx), wy * wx])
        out.append(csr_matrix((weights.astype(np.float32), (rows, cols)), shape=(SIZE * SIZE, SIZE * SIZE)))
    return out


def _rotated(thumbs: np.ndarray) -> np.ndarray:
    """(n, len(ANGLES), 32, 32): every thumbnail blurred, then rotated by every searched angle."""
    blurred = _zoomed(thumbs, _zooms()[SCALES.index(1.0)][None])[:, 0].reshape(len(thumbs), SIZE * SIZE)
    turned = [(r @ blurred.T).T for r in _rotations()]
    return np.stack(turned, axis=1).reshape(len(thumbs), len(ANGLES), SIZE, SIZE).astype(np.float32)


def windows(thumbs: np.ndarray) -> np.ndarray:
    """(n, 275, 576) unit vectors: each thumbnail's centre window at every searched shift, under
    every searched zoom and rotation."""
    lo, hi = 2, 2 + 2 * SHIFT + 1
    views = _zoomed(thumbs, _zooms())
    if ANGLES:
        views = np.concatenate([views, _rotated(thumbs)], axis=1)
    z = sliding_window_view(views, (WINDOW, WINDOW), axis=(2, 3))[:, :, lo:hi, lo:hi]
    return _unit(z.reshape(len(thumbs), -1, WINDOW * WINDOW))


def aligned_similarity_many(thumbs: np.ndarray, b_centre: np.ndarray) -> np.ndarray:
    """Best correlation of each of `thumbs`, shifted and zoomed, with one centre."""
    if len(thumbs) == 0:
        return np.zeros(0, np.float32)
    return np.asarray((windows(thumbs) @ b_centre).max(axis=1))


def verify(queries: np.ndarray, centres: np.ndarray, candidates: np.ndarray, batch: int = 64,
           threads: int = 1) -> np.ndarray:
    """Aligned similarity of each query thumbnail with each of its candidates' centres (-1 where
    none); on `threads` threads, each taking blocks of queries with BLAS held to one thread (numpy
    releases the GIL in its array work; BLAS's own threads are too few on these small products)."""
    if threads > 1 and len(queries) > batch:
        from concurrent.futures import ThreadPoolExecutor

        from threadpoolctl import threadpool_limits

        blocks = [np.arange(b, min(b + 4 * batch, len(queries))) for b in range(0, len(queries), 4 * batch)]
        with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
            parts = pool.map(lambda rows: verify(queries[rows], centres, candidates[rows], batch), blocks)
            return np.concatenate(list(parts))
    out = np.full(candidates.shape, -1.0)
    for b in range(0, len(queries), batch):
        cand = candidates[b:b + batch]
        w = windows(queries[b:b + batch])
        c = centres[np.maximum(cand, 0)]  # (m, k, 576)
        sims = (w @ np.swapaxes(c, 1, 2)).max(axis=1)
        out[b:b + batch] = np.where(cand >= 0, sims, -1.0)
    return out
