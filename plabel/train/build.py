"""Building a run: model, optimizer, schedule, EMA and the draw plan."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from plabel import checkpoints, models
from plabel.errors import UsageError
from plabel.sampling import MixedPlan, mixed_plan
from plabel.train.plan import RunPlan

if TYPE_CHECKING:
    from plabel.train.options import TrainOptions


@dataclass
class Parts:
    model: torch.nn.Module
    ema: Any | None  # timm's ModelEmaV3
    optimizer: torch.optim.Optimizer
    scheduler: Any  # timm's CosineLRScheduler
    data_config: models.DataConfig
    plan: MixedPlan
    order: np.ndarray  # manifest rows by plan position: labeled first, then pseudo
    device: torch.device
    net: torch.nn.Module  # what the training step calls: DDP's wrapper under torchrun, else the model itself


def build_parts(plan: RunPlan) -> Parts:
    from timm.optim import create_optimizer_v2
    from timm.scheduler import CosineLRScheduler
    from timm.utils import ModelEmaV3

    o = plan.options
    device = models.resolve_device(o.device)
    torch.manual_seed(o.seed)
    source = plan.parent if plan.kind == "finetune" else plan.init
    in_chans = int(source.config["in_chans"] if source is not None else o.in_chans or 3)
    img_size = o.img_size or (source.data_config.input_size[-1] if source is not None else None)
    built = models.ModelOptions(in_chans=in_chans, img_size=img_size, pretrained=o.pretrained,
                                drop_rate=plan.drop_rate, drop_path_rate=plan.drop_path_rate)
    model = models.create(plan.model_name, len(plan.classes), built)
    if source is not None:
        weights = checkpoints.EMA if source.has_ema else checkpoints.WEIGHTS
        checkpoints.load_weights(model, source.folder / weights, source.checkpoint_id)
    if o.freeze_stages:
        _freeze(model, o.freeze_stages)
    dc = models.data_config(model, img_size, in_chans)
    model.to(device)
    if device.type == "cuda" and o.channels_last:
        model.to(memory_format=torch.channels_last)
    mixed, order = mixed_plan(plan.manifest.copies, plan.manifest.pseudo, o.batch_size, o.unlabeled_ratio)
    optimizer = create_optimizer_v2(model, opt=o.opt, lr=o.lr, weight_decay=o.weight_decay, momentum=o.momentum)
    total = plan.epochs * mixed.steps
    warmup = min(int(o.warmup_epochs * mixed.steps), max(total - 1, 0))
    scheduler = CosineLRScheduler(
        optimizer, t_initial=total, lr_min=o.min_lr, warmup_t=warmup, warmup_lr_init=o.lr * 0.01, t_in_epochs=False
    )
    scheduler.step_update(0)
    ema = ModelEmaV3(model, decay=o.ema_decay, use_warmup=True) if o.ema_decay else None
    return Parts(model, ema, optimizer, scheduler, dc, mixed, order, device, _data_parallel(model, o, device))


def _data_parallel(model: torch.nn.Module, o: TrainOptions, device: torch.device) -> torch.nn.Module:
    """Under torchrun, DistributedDataParallel over the model (rank 0's weights on every rank,
    gradients averaged); SyncBatchNorm first when asked. Alone, the model itself."""
    from plabel import distributed

    if not distributed.active():
        return model
    from torch.nn.parallel import DistributedDataParallel

    net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model) if o.sync_bn else model
    return DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)


def _freeze(model: torch.nn.Module, stages: int) -> None:
    """Freeze the first `stages` parameter groups of timm's coarse grouping (stem = group 0)."""
    from timm.models import group_parameters

    if not hasattr(model, "group_matcher"):
        raise UsageError("`freeze_stages`: this model does not describe its stages (no group_matcher)")
    matcher: Any = model.group_matcher
    groups = group_parameters(model, matcher(coarse=True))
    frozen = {name for gid, names in groups.items() if gid < stages for name in names}
    for name, p in model.named_parameters():
        if name in frozen:
            p.requires_grad_(False)


def transform(plan: RunPlan, dc: models.DataConfig) -> models.Transform:
    o = plan.options
    if plan.kind == "finetune":
        return models.eval_transform(dc)
    hflip, crop_scale = o.hflip, o.crop_scale  # resolved by plan_run: never None here
    assert hflip is not None and crop_scale is not None
    return models.train_transform(dc, plan.randaug, hflip, (crop_scale, 1.0))
