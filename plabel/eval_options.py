"""How a checkpoint is run over images (eval, calibrate, eval --robustness): one owner of the defaults.

A module of its own without torch, so the CLI can take its defaults from it at start-up.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from plabel.fields import cli

EvalSplit = Literal["val", "test", "train", "holdout"]  # holdout: the labeled images the checkpoint trained without
CalibrateSplit = Literal["val", "holdout", "train"]  # train: seen in training, so over-confident
EVAL_SPLITS, CALIBRATE_SPLITS = get_args(EvalSplit), get_args(CalibrateSplit)
EVAL_SPLIT_HELP = "val, test, train, or holdout (the labeled images the checkpoint trained without: train --holdout)."
CALIBRATE_SPLIT_HELP = (
    "val, holdout (the labeled train images the checkpoint was trained without: train --holdout), or train "
    "(seen in training, so over-confident)."
)


@dataclass(frozen=True, kw_only=True)
class EvalOptions:
    checkpoint: str | None = field(default="latest", metadata=cli(
        "Checkpoint id (or prefix), or latest.", type=str))
    split: EvalSplit = field(default="test", metadata=cli(EVAL_SPLIT_HELP))
    limit: int | None = field(default=None, metadata=cli(  # the rows record how many
        "The first N images only (a quick look).", min=1))
    batch_size: int = field(default=256, metadata=cli("Images per forward pass.", min=1))
    workers: int = field(default=0, metadata=cli("DataLoader worker processes decoding images.", min=0))
    device: str = field(default="auto", metadata=cli("auto, cpu, cuda, cuda:1 ..."))
    use_ema: bool = True  # the EMA weights, when the checkpoint kept them


@dataclass(frozen=True, kw_only=True)
class CalibrateOptions(EvalOptions):
    split: CalibrateSplit = field(default="val", metadata=cli(CALIBRATE_SPLIT_HELP))
