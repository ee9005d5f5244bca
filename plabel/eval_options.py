"""How a checkpoint is run over images (eval, calibrate, eval --robustness): one owner of the defaults.

A module of its own without torch, so the CLI can take its defaults from it at start-up.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class EvalOptions:
    batch_size: int = 256  # images per forward pass
    workers: int = 0  # DataLoader processes decoding images
    device: str = "auto"
    use_ema: bool = True  # the EMA weights, when the checkpoint kept them
    limit: int | None = None  # the first N images only (a quick look; the rows record how many)
