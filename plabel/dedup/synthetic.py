"""Synthetic near duplicates: the copies that occur in scraped pools, made from a pool's own images.

They are the positives that calibrate a duplicate threshold (plabel.dedup.calibrate) and the
injected duplicates of `benchmarks/dedup_quality.py`.
"""
from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageEnhance

from plabel.images import to_rgb

if TYPE_CHECKING:
    from plabel.dedup.evidence import Pool
    from plabel.workspace import Workspace


def jpeg(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Re-encoded as JPEG at quality 70-90."""
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=int(rng.integers(70, 91)))
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def resize(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Resized by 90% or 110%."""
    f = float(rng.choice([0.9, 1.1]))
    return im.resize((max(1, round(im.width * f)), max(1, round(im.height * f))), Image.Resampling.BILINEAR)


def crop(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Up to 5% of each dimension cut away, split at random between the two edges."""
    w, h = im.size
    cw, ch = max(1, round(w * 0.05)), max(1, round(h * 0.05))
    left, top = int(rng.integers(0, cw + 1)), int(rng.integers(0, ch + 1))
    return im.crop((left, top, w - (cw - left), h - (ch - top)))


def brightness(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Brightness scaled by 90% or 110%."""
    return ImageEnhance.Brightness(im).enhance(float(rng.choice([0.9, 1.1])))


def shift(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Moved by one pixel along one axis, the uncovered edge repeated."""
    a = np.asarray(im)
    axis, step = int(rng.integers(0, 2)), int(rng.choice([-1, 1]))
    out = np.roll(a, step, axis=axis)
    edge: list[slice | int] = [slice(None)] * a.ndim
    edge[axis] = 0 if step > 0 else -1
    out[tuple(edge)] = a[tuple(edge)]
    return Image.fromarray(out)


def rotate(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Turned by 3 to 5 degrees either way, as a camera or a scanner skews; the corners filled
    with the border's mean colour, as a scanner's background would."""
    a = np.asarray(im)
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]]).reshape(-1, a.shape[-1] if a.ndim == 3 else 1)
    fill = tuple(int(v) for v in border.mean(axis=0).round())
    angle = float(rng.uniform(3, 5)) * float(rng.choice([-1, 1]))
    return im.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=fill if len(fill) > 1 else fill[0])


TRANSFORMS: dict[str, Callable[[Image.Image, np.random.Generator], Image.Image]] = {
    "jpeg": jpeg, "resize": resize, "crop": crop, "brightness": brightness, "shift": shift, "rotate": rotate,
}


def variants(im: Image.Image, rng: np.random.Generator) -> dict[str, Image.Image]:
    """One copy of the image per transform."""
    rgb = to_rgb(im)
    return {name: f(rgb, rng) for name, f in TRANSFORMS.items()}


def sampled_copies(ws: Workspace, pool: Pool, n: int,
                   seed: int) -> Iterator[tuple[int, Image.Image, list[Image.Image]]]:
    """(pool index, original, its copies) for up to n sampled pool images that can be read: the
    positives of either signal's calibration, the same for the same pool and seed."""
    from plabel.images import RejectedImage, load_rgb

    rng = np.random.default_rng(seed)
    for i in pool.sample(n, seed):
        try:
            original = load_rgb(pool.paths[i])
        except (RejectedImage, OSError):
            continue
        yield int(i), original, list(variants(original, rng).values())
