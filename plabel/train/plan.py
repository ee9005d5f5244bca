"""A run's plan: resolved options, the manifest, lineage and identity (run_id)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from plabel import checkpoints, holdout, models
from plabel.errors import DataError, UnknownCheckpoint, UnknownRound, UsageError
from plabel.manifest import Manifest, check_files, labeled_manifest, read_manifest
from plabel.queries import query
from plabel.sampling import mixed_plan
from plabel.train import advice
from plabel.train.options import NOISE, TrainOptions, validate
from plabel.workspace import Workspace


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
    notes: list[str] = field(default_factory=list)  # defaults chosen from the data, warnings

    @property
    def epochs(self) -> int:
        """The number of epochs, `auto` resolved (plan_run)."""
        if not isinstance(self.options.epochs, int):
            raise ValueError(f"epochs not resolved: {self.options.epochs!r}")
        return self.options.epochs

    def resolved(self) -> dict[str, Any]:
        o = asdict(self.options)
        for key in ("workers", "device", "manifest"):  # do not change the result
            o.pop(key)
        o.update(model=self.model_name, noise=self.noise, randaug=self.randaug, drop_rate=self.drop_rate,
                 drop_path_rate=self.drop_path_rate, kind=self.kind)
        return o


def _default_manifest(ws: Workspace, o: TrainOptions) -> Path:
    if o.finetune_from or o.round == 0:
        return labeled_manifest(ws)
    path = ws.manifest_path(o.round - 1)
    if not path.is_file():
        raise UnknownRound(
            f"round {o.round - 1} has no manifest to train round {o.round}'s student on; "
            f"run `plabel select --round {o.round - 1}` or pass `manifest`"
        )
    return path




def plan_run(ws: Workspace, o: TrainOptions) -> RunPlan:
    """Resolve options, manifest and lineage; every usage error is raised here, before writing."""
    validate(o)
    device = models.resolve_device(o.device)  # before the labeled manifest is written
    if o.sync_bn and device.type == "cpu":
        raise UsageError("`sync_bn` needs CUDA devices (torch's SyncBatchNorm does not run on CPU)")
    classes = ws.class_names()
    if not classes:
        raise UsageError("the workspace has no classes yet: ingest labeled images first")
    o, kind, parent, init, teacher = _lineage(ws, o, classes)
    model_name = _model_name(o, parent or init, teacher)
    o = _inherit(o, kind, teacher, init, parent)
    o, notes = _crop_default(ws, o)
    models.check_model_name(model_name)
    if init is not None and init.config["model"] != model_name:
        raise UsageError(f"`init_from` {init.checkpoint_id} is a {init.config['model']}, not a {model_name}")
    manifest_file = Path(o.manifest) if o.manifest else _default_manifest(ws, o)
    manifest, skipped = check_files(read_manifest(ws, manifest_file, len(classes)), o.skip_missing)
    if len(manifest) == 0:
        raise DataError("no manifest row has an existing file")
    if kind == "finetune":
        manifest = manifest.select(~manifest.pseudo)
    manifest, held_note = _hold_out(ws, manifest, o.holdout)
    notes += held_note
    o, notes = _epochs(o, manifest, notes)
    if parent is None and kind == "train":
        # whose predictions the manifest holds
        made_by = ws.scalar(query("train/teacher_of_manifest"), {"manifest_hash": manifest.hash})
        parent = checkpoints.find(ws, made_by) if made_by else init
    plan = RunPlan(o, kind, model_name, *_noise(o, kind), manifest, skipped, parent, init, classes, "", notes)
    identity = {"options": plan.resolved(), "manifest": manifest.hash, "parent": parent and parent.checkpoint_id,
                "init": init and init.checkpoint_id, "classes": classes, "device": device.type}
    plan.run_id = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    return plan


Found = checkpoints.Checkpoint | None


def _lineage(ws: Workspace, o: TrainOptions, classes: list[str]) -> tuple[TrainOptions, str, Found, Found, Found]:
    """(options, kind, parent, init, teacher): the checkpoints this run starts from or follows."""
    parent: Found = None
    init: Found = None
    teacher: Found = None
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


def _model_name(o: TrainOptions, start: Found, teacher: Found) -> str:
    if o.model:
        return o.model
    if start is not None:
        return str(start.config["model"])
    if teacher is not None:
        return str(teacher.config["model"])  # a student is, by default, its teacher's equal
    raise UsageError("`model` is required for round 0 (a timm model name, e.g. resnet18)")


def _inherit(o: TrainOptions, kind: str, teacher: Found, init: Found, parent: Found) -> TrainOptions:
    """What the data looks like is the teacher's unless said otherwise: size, channels, flips, crops,
    and the held-out images (a student that trained on them would leave its round no evidence)."""
    source = teacher or init or parent
    start = teacher or init
    if o.img_size is None and kind == "train" and start is not None:
        o = replace(o, img_size=start.data_config.input_size[-1])
    inherited = source.config.get("train", {}) if source is not None else {}
    return replace(
        o, in_chans=o.in_chans or (source.config["in_chans"] if source is not None else 3),
        hflip=o.hflip if o.hflip is not None else inherited.get("hflip", 0.5),
        crop_scale=o.crop_scale if o.crop_scale is not None else inherited.get("crop_scale"),
        holdout=o.holdout if o.holdout is not None else (inherited.get("holdout") or 0.0),
    )


def _crop_default(ws: Workspace, o: TrainOptions) -> tuple[TrainOptions, list[str]]:
    """The crop scale from the images' size, when neither the user nor a teacher chose one."""
    if o.crop_scale is not None:
        return o, []
    side = ws.scalar(query("train/median_side"))
    if not side:
        return replace(o, crop_scale=advice.TIMM_CROP_SCALE), []
    size = o.img_size or side
    scale = round(advice.crop_scale_for(side, size), 3)
    return replace(o, crop_scale=scale), [advice.crop_note(scale, side, size)]


def _epochs(o: TrainOptions, manifest: Manifest, notes: list[str]) -> tuple[TrainOptions, list[str]]:
    """--epochs auto resolved from the manifest's steps per epoch (what the run id records)."""
    if o.epochs != "auto":
        return o, notes
    steps = mixed_plan(manifest.copies, manifest.pseudo, o.batch_size, o.unlabeled_ratio)[0].steps
    student = bool(manifest.pseudo.any())
    epochs = advice.epochs_for(steps, student)
    return replace(o, epochs=epochs), notes + [advice.epochs_note(epochs, steps, o.batch_size, student)]


def _hold_out(ws: Workspace, manifest: Manifest, share: float | None) -> tuple[Manifest, list[str]]:
    """The manifest without its held-out labeled rows (`--holdout`), and a note saying how many."""
    if not share:
        return manifest, []
    held = ~manifest.pseudo & np.isin(manifest.image_ids, holdout.held_out_ids(ws, share))
    if held.all():
        raise UsageError(f"`holdout` {share:g} holds out every row of the manifest: nothing would be left to train on")
    return manifest.select(~held), [
        f"{int(held.sum())} labeled images held out of training (--holdout {share:g}): predict them with "
        f"`infer --split train`, and calibrate (--split holdout) and --threshold auto judge by them"]


def _noise(o: TrainOptions, kind: str) -> tuple[bool, str | None, float, float]:
    """(noised, RandAugment string, dropout, drop path): students are noised unless told otherwise."""
    noise = (o.round > 0 and kind == "train") if o.noise is None else o.noise
    if kind == "finetune":
        noise = False
    randaug = o.randaug or (f"rand-m{o.randaug_magnitude}-n{o.randaug_ops}-mstd0.5" if noise else None)
    if randaug and not randaug.startswith("rand"):
        raise UsageError(f"`randaug` must be a timm RandAugment string such as rand-m9-n2-mstd0.5, not {randaug!r}")
    drop_rate = o.drop_rate if o.drop_rate is not None else (NOISE["drop_rate"] if noise else 0.0)
    drop_path = o.drop_path_rate if o.drop_path_rate is not None else (NOISE["drop_path_rate"] if noise else 0.0)
    return noise, randaug, drop_rate, drop_path
