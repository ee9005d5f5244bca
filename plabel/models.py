"""timm models: creating them by name, their data config, and their eval/train transforms."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import timm
import torch
from timm.data import create_transform, resolve_data_config

from plabel.errors import UsageError

Transform = Callable[[Any], Any]  # a PIL image to what the model takes (timm's transforms)


@dataclass(frozen=True)
class DataConfig:
    """How images become tensors for a model (timm's data config, resolved at a size)."""

    input_size: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str
    crop_pct: float
    crop_mode: str


    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataConfig:
        return cls(tuple(d["input_size"]), tuple(d["mean"]), tuple(d["std"]), d["interpolation"],
                   float(d["crop_pct"]), d["crop_mode"])


def check_model_name(name: str) -> None:
    if not timm.is_model(name):
        near = timm.list_models(f"*{name.split('.')[0][:12]}*")[:8]
        hint = f"; similar: {', '.join(near)}" if near else "; see timm.list_models()"
        raise UsageError(f"unknown timm model {name!r}{hint}")


@dataclass(frozen=True, kw_only=True)
class ModelOptions:
    """How a model is built beyond its name and classes (the student's noise among them)."""

    in_chans: int = 3
    img_size: int | None = None  # models of fixed input size (ViTs) are built for it
    pretrained: bool = False  # timm's weights (needs network access)
    drop_rate: float = 0.0  # head dropout
    drop_path_rate: float = 0.0  # stochastic depth


def create(name: str, num_classes: int, options: ModelOptions | None = None) -> torch.nn.Module:
    """A timm model with our head."""
    o = options or ModelOptions()
    check_model_name(name)
    kwargs: dict[str, Any] = dict(num_classes=num_classes, in_chans=o.in_chans, pretrained=o.pretrained,
                                  drop_rate=o.drop_rate)
    if o.drop_path_rate:
        kwargs["drop_path_rate"] = o.drop_path_rate
    cfg = timm.models.get_pretrained_cfg(name)
    if o.img_size and cfg is not None and getattr(cfg, "fixed_input_size", False):
        kwargs["img_size"] = o.img_size
    try:
        return timm.create_model(name, **kwargs)
    except TypeError as e:
        raise UsageError(f"model {name!r} does not accept these options: {e}") from None


def data_config(model: torch.nn.Module, img_size: int | None, in_chans: int) -> DataConfig:
    args = {"input_size": (in_chans, img_size, img_size)} if img_size else {}
    cfg = resolve_data_config(args, model=model)
    mean, std = tuple(cfg["mean"]), tuple(cfg["std"])
    if in_chans == 1 and len(mean) == 3:
        mean, std = (sum(mean) / 3,), (sum(std) / 3,)
    size = cfg["input_size"]
    return DataConfig((in_chans, size[1], size[2]), mean, std, cfg["interpolation"], cfg["crop_pct"],
                      cfg.get("crop_mode", "center"))


def eval_transform(dc: DataConfig) -> Transform:
    """Resize and center crop only: the un-noised teacher's view of an image."""
    transform: Transform = create_transform(dc.input_size, is_training=False, interpolation=dc.interpolation,
                                            mean=dc.mean, std=dc.std, crop_pct=dc.crop_pct, crop_mode=dc.crop_mode)
    return transform


def train_transform(dc: DataConfig, auto_augment: str | None, hflip: float, scale: tuple[float, float]) -> Transform:
    """timm's training transform: random resized crop, flip, RandAugment when noised."""
    transform: Transform = create_transform(
        dc.input_size,
        is_training=True,
        auto_augment=auto_augment,
        hflip=hflip,
        scale=scale,
        color_jitter=0.0,
        interpolation="bilinear" if dc.interpolation not in ("bicubic", "bilinear") else dc.interpolation,
        mean=dc.mean,
        std=dc.std,
        re_prob=0.0,
    )
    return transform


def resolve_device(device: str) -> torch.device:
    if device == "auto":  # under torchrun, the current device is the rank's (plabel.distributed.init)
        return torch.device(f"cuda:{torch.cuda.current_device()}" if torch.cuda.is_available() else "cpu")
    try:
        d = torch.device(device)
    except RuntimeError as e:
        raise UsageError(f"bad `device` {device!r}: {e}") from None
    if d.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"`device` {device}: no CUDA device is available")
    if d.type == "cuda" and d.index is not None and d.index >= torch.cuda.device_count():
        raise UsageError(
            f"`device` {device}: there are {torch.cuda.device_count()} CUDA devices (0 to "
            f"{torch.cuda.device_count() - 1})"
        )
    return d
