"""ImageNet-C style corruptions (Hendrycks and Dietterich, ICLR 2019), applied on the fly.

Each corruption maps an image (float32 array, H x W x C, values in [0, 1], at the model's input
size) and a severity 1-5 to a corrupted copy, drawing its randomness from the generator it is
given (so a seed fixes the result). The severity parameters are those of the reference code,
`make_imagenet_c.py` in github.com/hendrycks/robustness, quoted below per corruption. Spatial
parameters there assume 224-pixel images; here they are scaled by (side / 224), so that a
corruption covers the same share of a smaller image. Intensity parameters are unchanged.

Motion blur, which the reference renders with ImageMagick, is a line kernel at a random angle;
fog's plasma fractal is the reference's diamond-square algorithm; elastic transform is the
reference's affine jitter plus smoothed displacement field.
"""
from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image
from scipy import ndimage

Corruption = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]
REGISTRY: dict[str, Corruption] = {}
FAMILIES = {
    "noise": ["gaussian_noise", "shot_noise", "impulse_noise"],
    "blur": ["defocus_blur", "motion_blur", "zoom_blur"],
    "weather": ["brightness", "contrast", "fog"],
    "digital": ["elastic_transform", "pixelate", "jpeg_compression"],
}


def register(fn: Corruption) -> Corruption:
    REGISTRY[fn.__name__] = fn
    return fn


def list_corruptions() -> list[str]:
    return [name for family in FAMILIES.values() for name in family]


def get(name: str) -> Corruption:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown corruption {name!r}; corruptions: {', '.join(list_corruptions())}") from None


def _scale(x: np.ndarray) -> float:
    return float(min(x.shape[:2])) / 224.0


def _clip(x: np.ndarray) -> np.ndarray:
    return np.asarray(np.clip(x, 0.0, 1.0), dtype=np.float32)


# -- noise ----------------------------------------------------------------------------------------
@register
def gaussian_noise(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = [0.08, 0.12, 0.18, 0.26, 0.38][severity - 1]
    return _clip(x + rng.normal(size=x.shape, scale=c))


@register
def shot_noise(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = [60, 25, 12, 5, 3][severity - 1]
    return _clip(rng.poisson(x * c) / c)


@register
def impulse_noise(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = [0.03, 0.06, 0.09, 0.17, 0.27][severity - 1]  # salt-and-pepper amount
    out = x.copy()
    hit = rng.random(x.shape) < c
    salt = rng.random(x.shape) < 0.5
    out[hit & salt] = 1.0
    out[hit & ~salt] = 0.0
    return _clip(out)


# -- blur ---------------------------------------------------------------------------------------
def _disk(radius: float, alias_blur: float) -> np.ndarray:
    r = max(radius, 0.5)
    size = int(np.ceil(r))
    yy, xx = np.mgrid[-size: size + 1, -size: size + 1]
    kernel = (xx ** 2 + yy ** 2 <= r ** 2).astype(np.float32)
    kernel /= kernel.sum()
    return np.asarray(ndimage.gaussian_filter(kernel, sigma=alias_blur)) if alias_blur else kernel


def _convolve(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return np.stack([ndimage.convolve(x[..., ch], kernel, mode="reflect") for ch in range(x.shape[2])], axis=2)


@register
def defocus_blur(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    radius, alias = [(3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)][severity - 1]
    # at least a 3x3 disk: scaled to a small image, severity 1 would otherwise be a no-op
    return _clip(_convolve(x, _disk(max(radius * _scale(x), 1.0), alias)))


@register
def motion_blur(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    radius, sigma = [(10, 3), (15, 5), (15, 8), (15, 12), (20, 15)][severity - 1]
    s = _scale(x)
    length = max(int(round(radius * s)) * 2 + 1, 3)
    angle = np.deg2rad(rng.uniform(-45, 45))
    kernel = np.zeros((length, length), np.float32)
    centre = length // 2
    steps = np.arange(length) - centre
    weights = np.exp(-(steps ** 2) / (2 * max(sigma * s, 0.5) ** 2))
    for t, w in zip(steps, weights, strict=True):
        kernel[int(round(centre + t * np.sin(angle))), int(round(centre + t * np.cos(angle)))] += w
    return _clip(_convolve(x, kernel / kernel.sum()))


@register
def zoom_blur(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    zooms = [np.arange(1, 1.11, 0.01), np.arange(1, 1.16, 0.01), np.arange(1, 1.21, 0.02),
             np.arange(1, 1.26, 0.02), np.arange(1, 1.31, 0.03)][severity - 1]
    h, w = x.shape[:2]
    out = x.copy()
    for z in zooms:
        zoomed = ndimage.zoom(x, (z, z, 1), order=1)
        top, left = (zoomed.shape[0] - h) // 2, (zoomed.shape[1] - w) // 2
        out += zoomed[top: top + h, left: left + w]
    return _clip(out / (len(zooms) + 1))


# -- weather and lighting -----------------------------------------------------------------------------
@register
def brightness(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    from matplotlib.colors import hsv_to_rgb, rgb_to_hsv

    c = [0.1, 0.2, 0.3, 0.4, 0.5][severity - 1]
    hsv = rgb_to_hsv(_rgb(x))
    hsv[..., 2] = np.clip(hsv[..., 2] + c, 0, 1)
    return _back(hsv_to_rgb(hsv), x)


@register
def contrast(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = [0.4, 0.3, 0.2, 0.1, 0.05][severity - 1]
    means = x.mean(axis=(0, 1), keepdims=True)
    return _clip((x - means) * c + means)


def _plasma(size: int, wibbledecay: float, rng: np.random.Generator) -> np.ndarray:
    """The reference's diamond-square plasma fractal, size a power of two, values in [0, 1]."""
    maparray = np.empty((size, size), dtype=np.float64)
    maparray[0, 0] = 0
    stepsize = size
    wibble = 100.0

    def wibbledmean(array: np.ndarray) -> np.ndarray:
        return array / 4 + wibble * rng.uniform(-wibble, wibble, array.shape)

    while stepsize >= 2:
        half = stepsize // 2
        corner = maparray[0:size:stepsize, 0:size:stepsize]
        squareaccum = corner + np.roll(corner, shift=-1, axis=0)
        squareaccum += np.roll(squareaccum, shift=-1, axis=1)
        maparray[half:size:stepsize, half:size:stepsize] = wibbledmean(squareaccum)
        d = maparray[half:size:stepsize, half:size:stepsize]
        lc = maparray[0:size:stepsize, 0:size:stepsize]
        ltsum = d + np.roll(d, 1, axis=0) + lc + np.roll(lc, -1, axis=1)
        maparray[0:size:stepsize, half:size:stepsize] = wibbledmean(ltsum)
        ttsum = d + np.roll(d, 1, axis=1) + lc + np.roll(lc, -1, axis=0)
        maparray[half:size:stepsize, 0:size:stepsize] = wibbledmean(ttsum)
        stepsize //= 2
        wibble /= wibbledecay
    maparray -= maparray.min()
    return np.asarray(maparray / maparray.max())


@register
def fog(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c0, c1 = [(1.5, 2), (2.0, 2), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)][severity - 1]
    h, w = x.shape[:2]
    size = 1 << int(np.ceil(np.log2(max(h, w, 2))))
    plasma = _plasma(size, c1, rng)[:h, :w, None]
    peak = x.max()
    return _clip((x + c0 * plasma) * peak / (peak + c0))


# -- digital ------------------------------------------------------------------------------------------
@register
def elastic_transform(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    # the reference's (sigma, alpha, affine) for 244-pixel images, as fractions of the side
    alpha, sigma, affine = [(244 * 2, 244 * 0.7, 244 * 0.1), (244 * 2, 244 * 0.08, 244 * 0.2),
                            (244 * 0.05, 244 * 0.01, 244 * 0.02), (244 * 0.07, 244 * 0.01, 244 * 0.02),
                            (244 * 0.12, 244 * 0.01, 244 * 0.02)][severity - 1]
    h, w = x.shape[:2]
    f = min(h, w) / 244.0
    alpha, sigma, affine = alpha * f, sigma * f, affine * f
    centre = np.array([h // 2, w // 2], dtype=np.float32)
    square = min(h, w) // 3
    src = np.array([centre + square, [centre[0] + square, centre[1] - square], centre - square], dtype=np.float32)
    dst = src + rng.uniform(-affine, affine, size=src.shape).astype(np.float32)
    # the affine map sending src to dst, applied by inverse mapping
    a = np.linalg.lstsq(np.hstack([dst, np.ones((3, 1))]), np.hstack([src, np.ones((3, 1))]), rcond=None)[0].T
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    dy = ndimage.gaussian_filter(rng.uniform(-1, 1, (h, w)), sigma, mode="reflect") * alpha
    dx = ndimage.gaussian_filter(rng.uniform(-1, 1, (h, w)), sigma, mode="reflect") * alpha
    ty = a[0, 0] * (yy + dy) + a[0, 1] * (xx + dx) + a[0, 2]
    tx = a[1, 0] * (yy + dy) + a[1, 1] * (xx + dx) + a[1, 2]
    out = np.stack([ndimage.map_coordinates(x[..., ch], [ty, tx], order=1, mode="reflect") for ch in range(x.shape[2])],
                   axis=2)
    return _clip(out)


@register
def pixelate(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = [0.6, 0.5, 0.4, 0.3, 0.25][severity - 1]
    h, w = x.shape[:2]
    im = _to_pil(x)
    small = im.resize((max(1, int(w * c)), max(1, int(h * c))), Image.Resampling.BOX)
    return _from_pil(small.resize((w, h), Image.Resampling.BOX), x)


@register
def jpeg_compression(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    quality = [25, 18, 15, 10, 7][severity - 1]
    buf = io.BytesIO()
    _to_pil(x).save(buf, "JPEG", quality=quality)
    return _from_pil(Image.open(buf), x)


# -- helpers --------------------------------------------------------------------------------------------
def _rgb(x: np.ndarray) -> np.ndarray:
    return np.repeat(x, 3, axis=2) if x.shape[2] == 1 else x


def _back(rgb: np.ndarray, like: np.ndarray) -> np.ndarray:
    return _clip(rgb.mean(axis=2, keepdims=True) if like.shape[2] == 1 else rgb)


def _to_pil(x: np.ndarray) -> Image.Image:
    arr = (np.clip(x, 0, 1) * 255).round().astype(np.uint8)
    return Image.fromarray(arr[..., 0], "L") if x.shape[2] == 1 else Image.fromarray(arr, "RGB")


def _from_pil(im: Image.Image, like: np.ndarray) -> np.ndarray:
    arr = np.asarray(im.convert("L" if like.shape[2] == 1 else "RGB"), dtype=np.float32) / 255.0
    return _clip(arr[..., None] if arr.ndim == 2 else arr)
