"""The options of `plabel train`, checked before anything else."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plabel.errors import UsageError, check_finite
from plabel.values import auto_or

OPTIMIZERS = ("adamw", "sgd")
NOISE = {"drop_rate": 0.5, "drop_path_rate": 0.2}  # the paper's student noise besides RandAugment


@dataclass(frozen=True, kw_only=True)
class TrainOptions:
    """Every option of `plabel train`; recorded in the checkpoint."""

    round: int
    model: str | None = None  # default: the teacher's (students), the parent's (fine-tune)
    manifest: str | None = None  # default: labeled images (round 0), round R-1's manifest
    epochs: int | str = 10  # or "auto": enough optimizer steps for the manifest and batch (train/advice.py)
    img_size: int | None = None  # default: the model's
    in_chans: int | None = None  # 3 (grayscale converted to RGB) or 1; default: the teacher's, else 3
    batch_size: int = 64  # labeled images per step
    unlabeled_ratio: float = 1.0  # pseudo images per labeled image in each step
    opt: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.05
    momentum: float = 0.9
    warmup_epochs: float = 1.0
    min_lr: float = 1e-6
    ema_decay: float = 0.0  # 0: no EMA
    clip_grad: float | None = None
    label_smoothing: float = 0.1
    noise: bool | None = None  # None: on for students (round > 0), off for the teacher
    randaug: str | None = None  # a timm string such as rand-m9-n2-mstd0.5 (overrides the two below)
    randaug_magnitude: int = 9
    randaug_ops: int = 2
    drop_rate: float | None = None  # None: 0.5 when noised, else 0
    drop_path_rate: float | None = None  # None: 0.2 when noised, else 0
    hflip: float | None = None  # default: the teacher's, else timm's 0.5
    crop_scale: float | None = None  # smallest RandomResizedCrop area; default: the teacher's, else from image size
    holdout: float | None = None  # share of each class's labeled train images kept out; default: teacher's, else 0
    pretrained: bool = False
    init_from: str | None = None
    finetune_from: str | None = None
    freeze_stages: int = 0
    skip_missing: bool = False
    seed: int = 0
    workers: int = 2
    device: str = "auto"
    amp: bool = True
    channels_last: bool = True
    sync_bn: bool = False  # under torchrun on CUDA: BatchNorm statistics over the global batch


@dataclass(kw_only=True)
class TrainResult:
    checkpoint_id: str
    round: int
    kind: str
    run_id: str
    epochs: int
    resumed_from_epoch: int | None
    already_trained: bool
    skipped_missing: int
    metrics: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # defaults chosen from the data, warnings



def parse_epochs(value: str) -> int | str:
    """--epochs as the command line gives it: a count or auto."""
    return auto_or(value, int, "--epochs", "a count >= 1 or auto")


def validate(o: TrainOptions) -> None:
    check_finite(o)
    checks = [
        (o.round >= 0, "--round must be >= 0"),
        (o.epochs == "auto" or (isinstance(o.epochs, int) and not isinstance(o.epochs, bool) and o.epochs >= 1),
         "--epochs must be a count >= 1 or auto"),
        (o.batch_size >= 1, "--batch-size must be >= 1"),
        (o.unlabeled_ratio >= 0, "--unlabeled-ratio must be >= 0"),
        (o.opt in OPTIMIZERS, f"--opt must be one of {', '.join(OPTIMIZERS)}"),
        (o.lr > 0, "--lr must be > 0"),
        (0 <= o.ema_decay < 1, "--ema-decay must be in [0, 1)"),
        (0 <= o.label_smoothing < 1, "--label-smoothing must be in [0, 1)"),
        (o.in_chans in (None, 1, 3), "--in-chans must be 1 or 3"),
        (o.img_size is None or o.img_size >= 8, "--img-size must be >= 8"),
        (o.crop_scale is None or 0 < o.crop_scale <= 1, "--crop-scale must be in (0, 1]"),
        (o.hflip is None or 0 <= o.hflip <= 1, "--hflip must be in [0, 1]"),
        (o.holdout is None or 0 <= o.holdout < 1, "--holdout must be in [0, 1)"),
        (o.freeze_stages >= 0, "--freeze-stages must be >= 0"),
        (not (o.finetune_from and o.init_from), "--finetune-from and --init-from exclude each other"),
        (o.workers >= 0, "--workers must be >= 0"),
    ]
    for ok, message in checks:
        if not ok:
            raise UsageError(message)
    for name in ("drop_rate", "drop_path_rate"):
        v = getattr(o, name)
        if v is not None and not 0 <= v < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be in [0, 1)")
