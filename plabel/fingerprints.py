"""Model-independent image fingerprints: a small grey thumbnail, and how alike two of them are.

Ingest keeps a 32x32 grey thumbnail of every image (1 KiB), made from the pixels it decodes
anyway. Two images are compared by the best normalised correlation of one's centre with the
other's, over small shifts (+-2 thumbnail pixels) and zooms (0.9-1.1, in 3% steps): a re-encoded, resized,
slightly cropped, shifted or brightened copy correlates at ~0.99 or more, while two distinct
digits of one class, or two crops of one texture, rarely do. Perceptual hashes (pHash, dHash)
were measured first and could not tell a shifted 28-pixel digit from a different one
(docs/benchmarks.md, "Duplicate detection quality"), so search and verification work on these
thumbnails instead: a blurred 16x16 vector finds candidates with faiss, the aligned correlation
decides.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image, ImageFilter

from plabel.images import to_rgb

SIZE = 32  # thumbnail side, pixels
THUMBNAIL_BYTES = SIZE * SIZE
SHIFT = 2  # largest shift searched, thumbnail pixels
SCALES = tuple(n / 32 for n in range(29, 36))  # zooms searched, ~3% apart: a 5% crop is a 1.05 zoom
WINDOW = SIZE - 2 * (SHIFT + 2)  # side of the compared centre window (24)
SEARCH_SIDE = 16  # side of the blurred vector that finds candidates


def thumbnail(im: Image.Image) -> bytes:
    """The fingerprint kept at ingest: 32x32 grey, orientation applied, aspect ratio squashed."""
    return to_rgb(im).convert("L").resize((SIZE, SIZE), Image.Resampling.BILINEAR).tobytes()


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


def _zoomed(t: np.ndarray, scale: float) -> np.ndarray:
    """The thumbnail zoomed about its centre, lightly blurred, back on a 32x32 canvas."""
    n = round(SIZE * scale)
    a = np.asarray(Image.fromarray(t).resize((n, n), Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(0.6)),
                   np.float32)
    if n >= SIZE:
        o = (n - SIZE) // 2
        return a[o:o + SIZE, o:o + SIZE]
    p = (SIZE - n) // 2
    return np.pad(a, ((p, SIZE - n - p), (p, SIZE - n - p)), mode="edge")


def centre(thumbs: np.ndarray) -> np.ndarray:
    """(n, 576) unit vectors of each thumbnail's centre window, unshifted and unzoomed."""
    o = SHIFT + 2
    if len(thumbs) == 0:
        return np.zeros((0, WINDOW * WINDOW), np.float32)
    return _unit(np.stack([_zoomed(t, 1.0)[o:o + WINDOW, o:o + WINDOW].ravel() for t in thumbs]))


def windows(thumb: np.ndarray) -> np.ndarray:
    """(175, 576) unit vectors: the centre window at every searched shift and zoom."""
    lo, hi = 2, 2 + 2 * SHIFT + 1
    out = [sliding_window_view(_zoomed(thumb, s), (WINDOW, WINDOW))[lo:hi, lo:hi].reshape(-1, WINDOW * WINDOW)
           for s in SCALES]
    return _unit(np.concatenate(out))


def aligned_similarity(a: np.ndarray, b_centres: np.ndarray) -> np.ndarray:
    """Best correlation of thumbnail `a`, shifted and zoomed, with each of the centres `b_centres`."""
    if len(b_centres) == 0:
        return np.zeros(0, np.float32)
    return (windows(a) @ b_centres.T).max(axis=0)
