"""`plabel train`: the teacher (round 0) and the noised students, from manifests.

The stages, each its own function: resolve the options and the manifest (`plan_run`), build
the model, optimizer, schedule and EMA (`_build`), run epochs (`_run_epoch`) with a state saved
atomically after each one (`_save_state`), then write the checkpoint. A killed run resumes from
its last saved epoch and, with the same seed, ends with the same weights as an uninterrupted run.
"""
from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader

from plabel import checkpoints, models, storage
from plabel.data import TrainImages, seeded_batches
from plabel.errors import DataError, TrainingDiverged, UnknownCheckpoint, UnknownRound, UsageError, check_finite
from plabel.evaluate import accuracy, labeled_split, predict_logits
from plabel.manifest import Manifest, check_files, labeled_manifest, read_manifest
from plabel.progress import NULL
from plabel.sampling import MixedPlan
from plabel.schema import table
from plabel.sql import query
from plabel.workspace import Workspace

OPTIMIZERS = ("adamw", "sgd")
NOISE = {"drop_rate": 0.5, "drop_path_rate": 0.2}  # the paper's student noise besides RandAugment


@dataclass(frozen=True)
class TrainOptions:
    """Every option of `plabel train`; recorded in the checkpoint."""

    round: int
    model: str | None = None  # default: the teacher's (students), the parent's (fine-tune)
    manifest: str | None = None  # default: labeled images (round 0), round R-1's manifest
    epochs: int = 10
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
    crop_scale: float | None = None  # smallest area of RandomResizedCrop; default: the teacher's, else 0.08
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


@dataclass
class TrainResult:
    checkpoint_id: str
    round: int
    kind: str
    run_id: str
    epochs: int
    resumed_from_epoch: int | None
    already_trained: bool
    skipped_missing: int
    metrics: dict
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class RunPlan:
    """Everything resolved before training starts: options, data, lineage, identity."""

    options: TrainOptions
    kind: str
    model_name: str
    noise: bool
    randaug: str | None
    drop_rate: float
    drop_path_rate: float
    manifest: Manifest
    skipped_missing: int
    parent: checkpoints.Checkpoint | None
    init: checkpoints.Checkpoint | None
    classes: list[str]
    run_id: str

    def resolved(self) -> dict:
        o = asdict(self.options)
        for key in ("workers", "device", "manifest"):  # do not change the result
            o.pop(key)
        o.update(model=self.model_name, noise=self.noise, randaug=self.randaug, drop_rate=self.drop_rate,
                 drop_path_rate=self.drop_path_rate, kind=self.kind)
        return o


def validate(o: TrainOptions) -> None:
    check_finite(o)
    checks = [
        (o.round >= 0, "--round must be >= 0"),
        (o.epochs >= 1, "--epochs must be >= 1"),
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


def _default_manifest(ws: Workspace, o: TrainOptions) -> Path:
    if o.finetune_from or o.round == 0:
        return labeled_manifest(ws)
    path = ws.manifest_path(o.round - 1)
    if not path.is_file():
        raise UnknownRound(
            f"round {o.round - 1} has no manifest to train round {o.round}'s student on; "
            f"run `plabel select --round {o.round - 1}` or pass --manifest"
        )
    return path




def plan_run(ws: Workspace, o: TrainOptions) -> RunPlan:
    """Resolve options, manifest and lineage; every usage error is raised here, before writing."""
    validate(o)
    device = models.resolve_device(o.device)  # before the labeled manifest is written
    classes = ws.class_names()
    if not classes:
        raise UsageError("the workspace has no classes yet: ingest labeled images first")
    o, kind, parent, init, teacher = _lineage(ws, o, classes)
    model_name = _model_name(o, parent or init, teacher)
    o = _inherit(o, kind, teacher, init, parent)
    models.check_model_name(model_name)
    if init is not None and init.config["model"] != model_name:
        raise UsageError(f"--init-from {init.checkpoint_id} is a {init.config['model']}, not a {model_name}")
    manifest_file = Path(o.manifest) if o.manifest else _default_manifest(ws, o)
    manifest, skipped = check_files(read_manifest(ws, manifest_file, len(classes)), o.skip_missing)
    if len(manifest) == 0:
        raise DataError("no manifest row has an existing file")
    if kind == "finetune":
        manifest = manifest.select(~manifest.pseudo)
    if parent is None and kind == "train":
        made_by = ws.scalar(query("train/teacher_of_manifest"), [manifest.hash])  # whose predictions the manifest holds
        parent = checkpoints.find(ws, made_by) if made_by else init
    plan = RunPlan(o, kind, model_name, *_noise(o, kind), manifest, skipped, parent, init, classes, "")
    identity = {"options": plan.resolved(), "manifest": manifest.hash, "parent": parent and parent.checkpoint_id,
                "init": init and init.checkpoint_id, "classes": classes, "device": device.type}
    plan.run_id = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    return plan


def _lineage(ws: Workspace, o: TrainOptions, classes: list[str]):
    """(options, kind, parent, init, teacher): the checkpoints this run starts from or follows."""
    parent = init = teacher = None
    kind = "train"
    if o.finetune_from:
        parent = checkpoints.find(ws, o.finetune_from)
        kind = "finetune"
        o = replace(o, round=parent.round)
    if o.init_from:
        init = checkpoints.find(ws, o.init_from)
    for ck in (parent, init):
        if ck is not None:
            checkpoints.check_classes(ck, classes)
    if o.round > 0 and kind == "train":
        try:
            teacher = checkpoints.find(ws, round=o.round - 1)
        except UnknownCheckpoint:
            if not (o.model or init):
                raise
    return o, kind, parent, init, teacher


def _model_name(o: TrainOptions, start, teacher) -> str:
    if o.model:
        return o.model
    if start is not None:
        return start.config["model"]
    if teacher is not None:
        return teacher.config["model"]  # a student is, by default, its teacher's equal
    raise UsageError("--model is required for round 0 (a timm model name, e.g. resnet18)")


def _inherit(o: TrainOptions, kind: str, teacher, init, parent) -> TrainOptions:
    """What the data looks like is the teacher's unless said otherwise: size, channels, flips, crops."""
    source = teacher or init or parent
    if o.img_size is None and kind == "train" and (teacher or init) is not None:
        o = replace(o, img_size=(teacher or init).data_config.input_size[-1])
    inherited = source.config.get("train", {}) if source is not None else {}
    return replace(
        o, in_chans=o.in_chans or (source.config["in_chans"] if source is not None else 3),
        hflip=o.hflip if o.hflip is not None else inherited.get("hflip", 0.5),
        crop_scale=o.crop_scale if o.crop_scale is not None else inherited.get("crop_scale", 0.08),
    )


def _noise(o: TrainOptions, kind: str) -> tuple[bool, str | None, float, float]:
    """(noised, RandAugment string, dropout, drop path): students are noised unless told otherwise."""
    noise = (o.round > 0 and kind == "train") if o.noise is None else o.noise
    if kind == "finetune":
        noise = False
    randaug = o.randaug or (f"rand-m{o.randaug_magnitude}-n{o.randaug_ops}-mstd0.5" if noise else None)
    if randaug and not randaug.startswith("rand"):
        raise UsageError(f"--randaug must be a timm RandAugment string such as rand-m9-n2-mstd0.5, not {randaug!r}")
    drop_rate = o.drop_rate if o.drop_rate is not None else (NOISE["drop_rate"] if noise else 0.0)
    drop_path = o.drop_path_rate if o.drop_path_rate is not None else (NOISE["drop_path_rate"] if noise else 0.0)
    return noise, randaug, drop_rate, drop_path


# -- building ---------------------------------------------------------------------------------
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


def _build(plan: RunPlan) -> Parts:
    from timm.optim import create_optimizer_v2
    from timm.scheduler import CosineLRScheduler
    from timm.utils import ModelEmaV3

    o = plan.options
    device = models.resolve_device(o.device)
    torch.manual_seed(o.seed)
    source = plan.parent if plan.kind == "finetune" else plan.init
    in_chans = int(source.config["in_chans"] if source is not None else o.in_chans or 3)
    img_size = o.img_size or (source.data_config.input_size[-1] if source is not None else None)
    built = models.ModelOptions(in_chans, img_size, o.pretrained, plan.drop_rate, plan.drop_path_rate)
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
    m = plan.manifest
    order = np.concatenate([np.flatnonzero(~m.pseudo), np.flatnonzero(m.pseudo)])
    n_lab = int((~m.pseudo).sum())
    # a stream is drawn from when some of its rows have copies > 0 (copies = 0 rows are never drawn)
    has_lab, has_unl = m.copies[~m.pseudo].sum() > 0, m.copies[m.pseudo].sum() > 0
    lab_bs = o.batch_size if has_lab else 0
    unl_bs = (max(1, round(o.unlabeled_ratio * o.batch_size)) if has_lab else o.batch_size) if has_unl else 0
    mixed = MixedPlan(m.copies[order[:n_lab]], m.copies[order[n_lab:]], lab_bs, unl_bs)
    optimizer = create_optimizer_v2(model, opt=o.opt, lr=o.lr, weight_decay=o.weight_decay, momentum=o.momentum)
    total = o.epochs * mixed.steps
    warmup = min(int(o.warmup_epochs * mixed.steps), max(total - 1, 0))
    scheduler = CosineLRScheduler(
        optimizer, t_initial=total, lr_min=o.min_lr, warmup_t=warmup, warmup_lr_init=o.lr * 0.01, t_in_epochs=False
    )
    scheduler.step_update(0)
    ema = ModelEmaV3(model, decay=o.ema_decay, use_warmup=True) if o.ema_decay else None
    return Parts(model, ema, optimizer, scheduler, dc, mixed, order, device)


def _freeze(model: torch.nn.Module, stages: int) -> None:
    """Freeze the first `stages` parameter groups of timm's coarse grouping (stem = group 0)."""
    from timm.models import group_parameters

    if not hasattr(model, "group_matcher"):
        raise UsageError("--freeze-stages: this model does not describe its stages (no group_matcher)")
    matcher: Any = model.group_matcher
    groups = group_parameters(model, matcher(coarse=True))
    frozen = {name for gid, names in groups.items() if gid < stages for name in names}
    for name, p in model.named_parameters():
        if name in frozen:
            p.requires_grad_(False)


def _transform(plan: RunPlan, dc: models.DataConfig):
    o = plan.options
    if plan.kind == "finetune":
        return models.eval_transform(dc)
    hflip, crop_scale = o.hflip, o.crop_scale  # resolved by plan_run: never None here
    assert hflip is not None and crop_scale is not None
    return models.train_transform(dc, plan.randaug, hflip, (crop_scale, 1.0))


# -- state (resume) -----------------------------------------------------------------------------
def _state_dirs(run_dir: Path) -> list[Path]:
    return sorted(p for p in run_dir.glob("epoch-*") if p.is_dir())


def _save_state(run_dir: Path, parts: Parts, epoch: int, step: int, history: list[dict]) -> None:
    tensors = {f"model.{k}": v for k, v in checkpoints.state_dict_for_save(parts.model).items()}
    if parts.ema is not None:
        tensors.update({f"ema.{k}": v for k, v in checkpoints.state_dict_for_save(parts.ema.module).items()})
    opt_state = parts.optimizer.state_dict()
    scalars = {}
    for pid, state in opt_state["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"optim.{pid}.{key}"] = value.detach().cpu().contiguous().clone()
            else:
                scalars[f"{pid}.{key}"] = value
    meta = {
        "epoch": epoch,
        "step": step,
        "history": history,
        "param_groups": opt_state["param_groups"],
        "optim_scalars": scalars,
    }
    staging = run_dir / f".staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    save_file(tensors, str(staging / "state.safetensors"))
    (staging / "state.json").write_text(json.dumps(meta, default=list))
    storage.commit_dir(staging, run_dir / f"epoch-{epoch:05d}")
    for old in _state_dirs(run_dir)[:-1]:
        shutil.rmtree(old, ignore_errors=True)


def _load_state(run_dir: Path, parts: Parts) -> tuple[int, int, list[dict]] | None:
    dirs = _state_dirs(run_dir)
    if not dirs:
        return None
    state_dir = dirs[-1]
    meta = json.loads((state_dir / "state.json").read_text())
    tensors = load_file(str(state_dir / "state.safetensors"))
    parts.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    if parts.ema is not None:
        parts.ema.module.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    state: dict = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    for key, value in meta["optim_scalars"].items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    groups = meta["param_groups"]
    for g in groups:
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    parts.optimizer.load_state_dict({"state": state, "param_groups": groups})
    parts.scheduler.step_update(meta["step"])
    return meta["epoch"], meta["step"], meta["history"]


# -- the loop -------------------------------------------------------------------------------------
def _loss(logits: torch.Tensor, rows: np.ndarray, m: Manifest, smoothing: float) -> torch.Tensor:
    """Per-row loss: soft cross-entropy where a soft label exists, else smoothed hard CE."""
    target = torch.as_tensor(m.target[rows], device=logits.device)
    loss = F.cross_entropy(logits, target, reduction="none", label_smoothing=smoothing)
    if m.has_soft:
        dense, has = m.soft_targets(rows, logits.shape[1])
        if has.any():
            q = torch.as_tensor(dense, device=logits.device)
            soft = -(q * F.log_softmax(logits, dim=-1)).sum(-1)
            loss = torch.where(torch.as_tensor(has, device=logits.device), soft, loss)
    return loss


def _masked_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    n = (weights > 0).sum().clamp(min=1)
    return (values * weights).sum() / n


def _run_epoch(plan: RunPlan, parts: Parts, dataset: TrainImages, epoch: int, step: int, task) -> tuple[int, dict, int]:
    o = plan.options
    torch.manual_seed(o.seed * 1_000_003 + epoch)  # dropout and drop-path draws of this epoch
    # the plan draws positions (labeled rows first, then pseudo); the dataset reads manifest rows
    batches = seeded_batches([parts.order[b] for b in parts.plan.batches(o.seed, epoch)], o.seed, epoch)
    loader = DataLoader(dataset, batch_sampler=batches, num_workers=o.workers, pin_memory=parts.device.type == "cuda")
    sums = np.zeros(3)  # loss, labeled loss, pseudo loss
    skipped = 0
    started = time.perf_counter()
    parts.model.train()
    for x, rows, reasons in loader:
        rows = rows.numpy()
        bad = _unreadable(plan, rows, reasons)
        skipped += int(bad.sum())
        losses = _losses(plan, parts, x, rows, bad)
        if not math.isfinite(losses[0]):  # a diverged model must never become a checkpoint
            raise _Diverged(epoch, step + 1, losses[0], time.perf_counter() - started)
        step += 1
        _optimize(parts, o, step)
        sums += losses
        task.advance(1)
    seconds = time.perf_counter() - started
    steps, lab_bs, unl_bs = len(batches), parts.plan.lab_bs, parts.plan.unl_bs
    return step, {
        "epoch": epoch, "step": step, "loss": sums[0] / steps, "lab_loss": sums[1] / steps,
        "unl_loss": sums[2] / steps if unl_bs else None, "lr": float(parts.optimizer.param_groups[0]["lr"]),
        "images_per_s": steps * (lab_bs + unl_bs) / seconds, "seconds": seconds,
    }, skipped


def _unreadable(plan: RunPlan, rows: np.ndarray, reasons) -> np.ndarray:
    """Which rows of a batch could not be read; DataError unless --skip-missing."""
    bad = np.array([bool(r) for r in reasons])
    if bad.any() and not plan.options.skip_missing:
        j = int(np.flatnonzero(bad)[0])
        path = plan.manifest.files[rows[j]].decode()
        raise DataError(f"{path}: {reasons[j]} (pass --skip-missing to skip unreadable images)")
    return bad


def _losses(plan: RunPlan, parts: Parts, x: torch.Tensor, rows: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Forward and backward of one batch; (loss, labeled loss, pseudo loss) as numbers."""
    o, m = plan.options, plan.manifest
    lab_bs, unl_bs = parts.plan.lab_bs, parts.plan.unl_bs
    x = x.to(parts.device, non_blocking=True)
    if parts.device.type == "cuda" and o.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    weight = torch.as_tensor(m.weight[rows] * ~bad, device=parts.device)
    with torch.autocast(parts.device.type, dtype=torch.bfloat16, enabled=o.amp and parts.device.type == "cuda"):
        logits = parts.model(x)
    per_row = _loss(logits.float(), rows, m, o.label_smoothing)
    lab_loss = _masked_mean(per_row[:lab_bs], weight[:lab_bs]) if lab_bs else per_row.new_zeros(())
    unl_loss = _masked_mean(per_row[lab_bs:], weight[lab_bs:]) if unl_bs else per_row.new_zeros(())
    # the official Noisy Student loss: pseudo rows weigh unl_bs / lab_bs as much as labeled ones
    loss = (lab_loss * lab_bs + unl_loss * unl_bs) / lab_bs if lab_bs else unl_loss
    values = np.array([loss.item(), lab_loss.item(), unl_loss.item()])
    if math.isfinite(values[0]):
        parts.optimizer.zero_grad(set_to_none=True)
        loss.backward()
    return values


def _optimize(parts: Parts, o: TrainOptions, step: int) -> None:
    if o.clip_grad:
        torch.nn.utils.clip_grad_norm_(parts.model.parameters(), o.clip_grad)
    parts.optimizer.step()
    parts.scheduler.step_update(step)
    if parts.ema is not None:
        parts.ema.update(parts.model, step=step)


class _Diverged(Exception):
    def __init__(self, epoch: int, step: int, loss: float, seconds: float):
        super().__init__(f"non-finite loss ({loss}) at step {step}")
        self.epoch, self.step, self.loss, self.seconds = epoch, step, loss, seconds


def _record_divergence(ws: Workspace, plan: RunPlan, parts: Parts, d: _Diverged) -> TrainingDiverged:
    """A `runs` row that says why the run stopped, and the error to raise (exit 1)."""
    reason = f"non-finite loss ({d.loss}) at step {d.step}"
    _write_run_row(
        ws,
        plan,
        {
            "epoch": d.epoch,
            "step": d.step,
            "loss": d.loss,
            "lab_loss": math.nan,
            "unl_loss": None,
            "lr": float(parts.optimizer.param_groups[0]["lr"]),
            "images_per_s": 0.0,
            "seconds": d.seconds,
            "failure": reason,
        },
    )
    return TrainingDiverged(
        f"training diverged in epoch {d.epoch + 1}: {reason}; no checkpoint was written "
        f"(lower --lr, currently {plan.options.lr:g}, or set --clip-grad)"
    )


def _validate_epoch(plan: RunPlan, parts: Parts, val) -> tuple[float | None, float | None]:
    if val is None or not len(val):
        return None, None
    model = parts.ema.module if parts.ema is not None else parts.model
    model.eval()
    logits, bad = predict_logits(model, val.files, parts.data_config)
    ok = np.array([i not in bad for i in range(len(val))], dtype=bool)
    return accuracy(logits[ok], val.targets[ok], 1), accuracy(logits[ok], val.targets[ok], 5)


def _write_run_row(ws: Workspace, plan: RunPlan, row: dict) -> None:
    full = {"run_id": plan.run_id, "round": plan.options.round, **row}
    dest = ws.table_dir("runs") / f"{plan.run_id}-epoch{row['epoch']:05d}.parquet"
    storage.write_rows([full], dest, table("runs"))




def train(ws: Workspace, options: TrainOptions, progress=NULL, resume: bool = True) -> TrainResult:
    """Train round R's model; resume a killed run (unless `resume` is False: start it over);
    return the existing checkpoint of a finished one."""
    started = time.perf_counter()
    plan = plan_run(ws, options)
    o = plan.options
    done = ws.scalar(query("train/existing_run"), [plan.run_id])
    if done:
        ckpt = checkpoints.find(ws, done)
        return TrainResult(done, ckpt.round, plan.kind, plan.run_id, o.epochs, None, True, plan.skipped_missing,
                           ckpt.config.get("metrics", {}), seconds=time.perf_counter() - started)
    with ws.writing(f"plabel train --round {o.round}"):
        parts = _build(plan)
        run_dir = ws.train_dir / plan.run_id
        if not resume:
            shutil.rmtree(run_dir, ignore_errors=True)
        resumed = _load_state(run_dir, parts)
        at = _Position(resumed[0] + 1, resumed[1], resumed[2]) if resumed else _Position(0, 0, [])
        first_epoch, history = at.epoch, at.history
        for row in history:  # rows of epochs saved before a kill may not have reached the table
            _write_run_row(ws, plan, row)
        skipped = _epochs(ws, plan, parts, run_dir, at, progress)
        last = history[-1]
        metrics = {"val_top1": last["val_top1"], "val_top5": last["val_top5"], "loss": last["loss"]}
        config = _checkpoint_config(plan, parts, metrics)
        ckpt = checkpoints.save(ws, parts.model, parts.ema.module if parts.ema is not None else None, config)
        shutil.rmtree(run_dir, ignore_errors=True)
    return TrainResult(ckpt.checkpoint_id, ckpt.round, plan.kind, plan.run_id, o.epochs,
                       first_epoch if resumed else None, False, plan.skipped_missing + skipped, metrics, history,
                       time.perf_counter() - started)


@dataclass
class _Position:
    """Where a run stands: the next epoch, the optimizer steps so far, the rows of the epochs done."""

    epoch: int
    step: int
    history: list[dict]


def _epochs(ws: Workspace, plan: RunPlan, parts: Parts, run_dir: Path, at: _Position, progress) -> int:
    """The remaining epochs of the run, each saved (state, then its runs row); images skipped."""
    o, dc = plan.options, parts.data_config
    val = labeled_split(ws, "val")
    dataset = TrainImages(plan.manifest.files, _transform(plan, dc), dc.input_size[0], dc.input_size)
    skipped, step, history = 0, at.step, at.history
    for epoch in range(at.epoch, o.epochs):
        task = progress.task(f"train round {o.round} epoch {epoch + 1}/{o.epochs}", parts.plan.steps, "steps")
        try:
            step, row, bad = _run_epoch(plan, parts, dataset, epoch, step, task)
        except _Diverged as d:
            raise _record_divergence(ws, plan, parts, d) from None
        finally:
            task.close()
        skipped += bad
        row["val_top1"], row["val_top5"] = _validate_epoch(plan, parts, val)
        history.append(row)
        _save_state(run_dir, parts, epoch, step, history)
        _write_run_row(ws, plan, row)
    return skipped


def _checkpoint_config(plan: RunPlan, parts: Parts, metrics: dict) -> dict:
    m = plan.manifest
    return {
        "round": plan.options.round,
        "kind": plan.kind,
        "model": plan.model_name,
        "num_classes": len(plan.classes),
        "classes": plan.classes,
        "in_chans": parts.data_config.input_size[0],
        "data_config": parts.data_config.to_dict(),
        "ema": parts.ema is not None,
        "train": plan.resolved(),
        "manifest": {
            "path": m.path,
            "hash": m.hash,
            "rows": len(m),
            "labeled": int((~m.pseudo).sum()),
            "pseudo": int(m.pseudo.sum()),
            "skipped_missing": plan.skipped_missing,
        },
        "parent_id": plan.parent.checkpoint_id if plan.parent else None,
        "init_id": plan.init.checkpoint_id if plan.init else None,
        "run_id": plan.run_id,
        "metrics": {k: (None if v is None or math.isnan(v) else round(v, 6)) for k, v in metrics.items()},
    }
