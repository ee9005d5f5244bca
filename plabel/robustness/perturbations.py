"""ImageNet-P style perturbation sequences (Hendrycks and Dietterich, ICLR 2019).

A sequence is `frames` small, growing perturbations of one image. The flip rate of a model on a
sequence is how often its top-1 prediction changes: between neighbouring frames for the
temporally smooth perturbations (translation, brightness), and against the first frame for
noise, whose frames are independent draws (as ImageNet-P does for its noise sequences).
Translation moves the image one step per frame (1 pixel per 64 of side, at least 1); brightness
adds 0.01 to HSV value per frame; noise adds independent gaussian noise of sd 0.02.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

FRAMES = 10
Sequence = Callable[[np.ndarray, int, np.random.Generator], list[np.ndarray]]
REGISTRY: dict[str, tuple[Sequence, str]] = {}  # name -> (sequence, "consecutive" or "first")


def register(compare: str) -> Callable[[Sequence], Sequence]:
    def wrap(fn: Sequence) -> Sequence:
        REGISTRY[fn.__name__] = (fn, compare)
        return fn

    return wrap


def list_perturbations() -> list[str]:
    return list(REGISTRY)


@register("consecutive")
def translate(x: np.ndarray, frames: int, rng: np.random.Generator) -> list[np.ndarray]:
    step = max(1, round(min(x.shape[:2]) / 64))
    direction = rng.choice([-1, 1])
    return [ndimage.shift(x, (0, direction * step * t, 0), order=0, mode="nearest") for t in range(frames)]


@register("consecutive")
def brightness(x: np.ndarray, frames: int, rng: np.random.Generator) -> list[np.ndarray]:
    from matplotlib.colors import hsv_to_rgb, rgb_to_hsv

    rgb = np.repeat(x, 3, axis=2) if x.shape[2] == 1 else x
    hsv = rgb_to_hsv(rgb)
    out = []
    for t in range(frames):
        h = hsv.copy()
        h[..., 2] = np.clip(h[..., 2] + 0.01 * t, 0, 1)
        y = hsv_to_rgb(h)
        out.append((y.mean(axis=2, keepdims=True) if x.shape[2] == 1 else y).astype(np.float32))
    return out


@register("first")
def gaussian_noise(x: np.ndarray, frames: int, rng: np.random.Generator) -> list[np.ndarray]:
    return [x] + [np.clip(x + rng.normal(scale=0.02, size=x.shape), 0, 1).astype(np.float32) for _ in range(frames - 1)]


def flip_rate(predictions: np.ndarray, compare: str) -> float:
    """predictions: [images, frames] top-1 classes -> % of frame comparisons that flip."""
    if compare == "first":
        changed = predictions[:, 1:] != predictions[:, :1]
    else:
        changed = predictions[:, 1:] != predictions[:, :-1]
    return float(changed.mean() * 100) if changed.size else 0.0
