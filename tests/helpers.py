"""Helpers for tests: real files, digests of folders."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image


def write_pngs(folder: Path, n: int, size: int = 16, seed: int = 0, mode: str = "RGB") -> list[Path]:
    """n distinct random PNG files."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        shape = (size, size, 3) if mode == "RGB" else (size, size)
        p = folder / f"img{i:04d}.png"
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(p)
        paths.append(p)
    return paths



def tree_digest(folder: Path) -> str:
    """Hash of every file's path and bytes under a folder (to show nothing changed)."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()
