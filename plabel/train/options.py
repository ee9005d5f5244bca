"""The options of `plabel train`, checked before anything else."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from plabel.errors import UsageError, check_fields
from plabel.fields import cli
from plabel.values import auto_or

Optimizer = Literal["adamw", "sgd"]
OPTIMIZERS = get_args(Optimizer)
# the student noise besides RandAugment (m5 by default): the paper's dropout, half its stochastic
# depth; the paper's m9 with 0.2 closed less of the gap on photo patches and look-alikes and the
# same on digits (docs/benchmarks.md, "Ablations")
NOISE = {"drop_rate": 0.5, "drop_path_rate": 0.1}
# the --help panels of plabel train
TRAIN, LOOP, RUNTIME = "Training", "Optimisation", "Runtime"
NOISE_PANEL = "Noise (on by default for students, round > 0)"


@dataclass(frozen=True, kw_only=True)
class TrainOptions:
    """Every option of `plabel train`; recorded in the checkpoint."""

    round: int
    model: str | None = field(default=None, metadata=cli(
        "timm model name (default for a student: the teacher's, with its image size, channels, flips and crops).",
        panel=TRAIN))
    manifest: str | None = field(default=None, metadata=cli(
        "Manifest Parquet file (default: labeled images for round 0, else round R-1's manifest).", panel=TRAIN,
        type=Path | None, parse=lambda p: str(p) if p else None))
    # "auto": enough optimizer steps for the manifest and batch (train/advice.py)
    epochs: int | str = field(default=10, metadata=cli(
        "Passes over the manifest (copies included), or auto: at least 200 optimizer steps and 10 passes "
        "(20 for a student: a manifest with pseudo labels).",
        panel=TRAIN, type=str, default="10", parse=lambda v: parse_epochs(v)))
    img_size: int | None = field(default=None, metadata=cli("Input size in pixels (default: the model's).",
                                                             panel=TRAIN))
    in_chans: int | None = field(default=None, metadata=cli(
        "3 (grayscale images are converted to RGB) or 1 (default: the teacher's, else 3).", panel=TRAIN))
    batch_size: int = field(default=64, metadata=cli("Labeled images per step.", panel=TRAIN, min=1))
    unlabeled_ratio: float = field(default=1.0, metadata=cli(
        "Pseudo-labeled images per labeled image in each step.", panel=TRAIN))
    holdout: float | None = field(default=None, metadata=cli(
        "Share of each class's labeled train images kept out of training, to calibrate and pick --threshold auto "
        "on when there is no val split (default: the teacher's, else 0; the same images in every round).",
        panel=TRAIN))
    pretrained: bool = field(default=False, metadata=cli(
        "Start from timm's pretrained weights (needs network access).", "--pretrained", panel=TRAIN))
    init_from: str | None = field(default=None, metadata=cli(
        "Start from this checkpoint's weights (e.g. the teacher).", panel=TRAIN))
    finetune_from: str | None = field(default=None, metadata=cli(
        "FixRes-style fine-tune of this checkpoint on unaugmented labeled images (use a larger --img-size).",
        panel=TRAIN))
    freeze_stages: int = field(default=0, metadata=cli(
        "With --finetune-from: freeze the first K stages (stem = 1).", panel=TRAIN))
    skip_missing: bool = field(default=False, metadata=cli(
        "Skip and count manifest rows whose file is gone or unreadable.", "--skip-missing", panel=TRAIN))
    # None: on for students (round > 0), off for the teacher
    noise: bool | None = field(default=None, metadata=cli(
        "Student noise: RandAugment, dropout, stochastic depth.", "--noise/--no-noise", panel=NOISE_PANEL,
        show_default=False))
    randaug: str | None = field(default=None, metadata=cli(
        "timm RandAugment string, e.g. rand-m5-n2-mstd0.5 (overrides the next two).", panel=NOISE_PANEL))
    randaug_magnitude: int = field(default=5, metadata=cli(
        "RandAugment magnitude on timm's 0-10 scale (the m in rand-m5-n2-mstd0.5).", panel=NOISE_PANEL))
    randaug_ops: int = field(default=2, metadata=cli("RandAugment operations applied per image.", panel=NOISE_PANEL))
    drop_rate: float | None = field(default=None, metadata=cli("Head dropout (default 0.5 noised, else 0).",
                                                                panel=NOISE_PANEL))
    drop_path_rate: float | None = field(default=None, metadata=cli(
        "Stochastic depth (default 0.1 noised, else 0).", panel=NOISE_PANEL))
    label_smoothing: float = field(default=0.1, metadata=cli(
        "For hard targets; soft targets use soft cross-entropy.", panel=NOISE_PANEL))
    hflip: float | None = field(default=None, metadata=cli(
        "Horizontal flip probability (default: the teacher's, else 0.5).", panel=NOISE_PANEL))
    crop_scale: float | None = field(default=None, metadata=cli(
        "Smallest area kept by the random resized crop (default: the teacher's, else chosen from the images' "
        "size: the smallest crop magnified at most 2x, as timm's 0.08 is on ImageNet).", panel=NOISE_PANEL))
    opt: Optimizer = field(default="adamw", metadata=cli("adamw or sgd (Nesterov).", panel=LOOP))
    lr: float = field(default=1e-3, metadata=cli("Peak learning rate (after warmup).", panel=LOOP))
    weight_decay: float = field(default=0.05, metadata=cli("Weight decay (decoupled for AdamW).", panel=LOOP))
    momentum: float = field(default=0.9, metadata=cli("SGD momentum (Nesterov).", panel=LOOP))
    warmup_epochs: float = field(default=1.0, metadata=cli("Linear warmup, in epochs (fractions allowed).",
                                                            panel=LOOP))
    min_lr: float = field(default=1e-6, metadata=cli("Learning rate at the end of the cosine schedule.", panel=LOOP))
    ema_decay: float = field(default=0.0, metadata=cli("EMA of weights (0: off).", panel=LOOP))
    clip_grad: float | None = field(default=None, metadata=cli("Clip the gradient norm.", panel=LOOP))
    seed: int = field(default=0, metadata=cli("Random seed."))
    workers: int = field(default=2, metadata=cli("DataLoader worker processes.", panel=RUNTIME, min=0))
    device: str = field(default="auto", metadata=cli("auto, cpu, cuda, cuda:1 ...", panel=RUNTIME))
    amp: bool = field(default=True, metadata=cli("bfloat16 autocast on CUDA.", "--amp/--no-amp", panel=RUNTIME))
    channels_last: bool = field(default=True, metadata=cli("On CUDA.", "--channels-last/--no-channels-last",
                                                            panel=RUNTIME))
    sync_bn: bool = field(default=False, metadata=cli(
        "Under torchrun on CUDA: BatchNorm statistics over the global batch (SyncBatchNorm).", "--sync-bn",
        panel=RUNTIME))


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
    return auto_or(value, int, "epochs", "a count >= 1 or auto")


def validate(o: TrainOptions) -> None:
    check_fields(o)
    checks = [
        (o.round >= 0, "`round` must be >= 0"),
        (o.epochs == "auto" or (isinstance(o.epochs, int) and not isinstance(o.epochs, bool) and o.epochs >= 1),
         "`epochs` must be a count >= 1 or auto"),
        (o.batch_size >= 1, "`batch_size` must be >= 1"),
        (o.unlabeled_ratio >= 0, "`unlabeled_ratio` must be >= 0"),
        (o.lr > 0, "`lr` must be > 0"),
        (0 <= o.ema_decay < 1, "`ema_decay` must be in [0, 1)"),
        (0 <= o.label_smoothing < 1, "`label_smoothing` must be in [0, 1)"),
        (o.in_chans in (None, 1, 3), "`in_chans` must be 1 or 3"),
        (o.img_size is None or o.img_size >= 8, "`img_size` must be >= 8"),
        (o.crop_scale is None or 0 < o.crop_scale <= 1, "`crop_scale` must be in (0, 1]"),
        (o.hflip is None or 0 <= o.hflip <= 1, "`hflip` must be in [0, 1]"),
        (o.holdout is None or 0 <= o.holdout < 1, "`holdout` must be in [0, 1)"),
        (o.freeze_stages >= 0, "`freeze_stages` must be >= 0"),
        (not (o.finetune_from and o.init_from), "`finetune_from` and `init_from` exclude each other"),
        (o.workers >= 0, "`workers` must be >= 0"),
    ]
    for ok, message in checks:
        if not ok:
            raise UsageError(message)
    for name in ("drop_rate", "drop_path_rate"):
        v = getattr(o, name)
        if v is not None and not 0 <= v < 1:
            raise UsageError(f"`{name}` must be in [0, 1)")
