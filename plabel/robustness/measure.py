"""`plabel eval --robustness`: corruption errors (mCE), flip rates (mFR) and adversarial accuracy.

Every measurement streams the split in batches through DataLoader workers; a corrupted or
perturbed copy exists only for its batch. Numbers are written to `evals` with the checkpoint,
round, kind, corruption, severity, epsilon and the settings they depend on. Normalised measures
(CE, mCE, FR) divide by a reference checkpoint's (default: the round-0 teacher), measured with
the same settings, and reuse its rows when they already exist.
"""
from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch
from timm.data import create_transform
from torch.utils.data import DataLoader, Dataset, Subset

from plabel import checkpoints, distributed, models
from plabel.errors import UsageError
from plabel.evaluate import labeled_split, write_rows
from plabel.images import RejectedImage
from plabel.loading import load_image
from plabel.progress import NULL, Progress
from plabel.queries import query
from plabel.robustness import corruptions as C
from plabel.robustness import perturbations as P
from plabel.robustness.adversarial import Normalized, fgsm, pgd
from plabel.robustness.options import RobustnessOptions, RobustnessResult, validate
from plabel.workspace import Workspace

# a treatment maps a [0, 1] image and its generator to an image (corruptions) or frames (perturbations)
Treat = Callable[[np.ndarray, np.random.Generator], Any]
Stored = dict[tuple[Any, Any, str], float]  # (corruption, severity, metric) -> value


class Pixels(Dataset[Any]):
    """Test images at the model's input geometry, as [0, 1] arrays, with an optional treatment
    applied per item with its own seeded generator; items are (tensor or frames, index, ok)."""

    def __init__(self, files: np.ndarray, dc: models.DataConfig, treat: Treat | None = None,
                 seed_key: tuple[int, ...] = ()) -> None:
        self.files, self.dc, self.treat, self.seed_key = files, dc, treat, seed_key
        self.geometry = create_transform(dc.input_size, is_training=False, interpolation=dc.interpolation,
                                         crop_pct=dc.crop_pct, crop_mode=dc.crop_mode, normalize=False)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, bool]:
        try:
            im = load_image(self.files[i].decode(), self.dc.input_size[0])
        except RejectedImage:
            return torch.zeros(self.dc.input_size), i, False
        t = self.geometry(im)  # timm's eval geometry without normalisation: uint8 0-255
        x = (t.float() / 255 if t.dtype == torch.uint8 else t.float()).permute(1, 2, 0).numpy()  # H x W x C in [0, 1]
        if self.treat is not None:
            x = self.treat(x, np.random.default_rng([*self.seed_key, i]))
        if isinstance(x, list):
            return torch.stack([torch.from_numpy(np.ascontiguousarray(f)).permute(2, 0, 1) for f in x]), i, True
        return torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1), i, True


class _Measure:
    def __init__(self, ws: Workspace, o: RobustnessOptions, progress: Progress) -> None:
        self.ws, self.o, self.progress = ws, o, progress
        self.device = models.resolve_device(o.device)
        self.data = labeled_split(ws, o.split, o.limit)
        if not len(self.data):
            raise UsageError(f"no labeled {o.split} images in the workspace")
        self.images = 0
        self.mine = list(distributed.shard(len(self.data)))  # under torchrun: this rank's images

    def loader(self, dc: models.DataConfig, treat: Treat | None = None,
               seed_key: tuple[int, ...] = ()) -> DataLoader[Any]:
        # a subset keeps each image's own index, which seeds its treatment: the same draws at any world size
        return DataLoader(Subset(Pixels(self.data.files, dc, treat, seed_key), self.mine),
                          batch_size=self.o.batch_size, num_workers=self.o.workers)

    def model(self, ckpt: checkpoints.Checkpoint) -> Normalized:
        dc = ckpt.data_config
        built = checkpoints.build_model(ckpt, use_ema=self.o.use_ema, device=self.device)
        net = Normalized(built, dc.mean, dc.std).to(self.device).eval()
        for p in net.parameters():
            p.requires_grad_(False)
        return net

    @torch.inference_mode()
    def error(self, net: torch.nn.Module, dc: models.DataConfig, treat: Treat | None = None,
              seed_key: tuple[int, ...] = (), label: str = "") -> float:
        wrong = total = 0
        task = self.progress.task(label, len(self.mine), "images")
        for x, idx, ok in self.loader(dc, treat, seed_key):
            keep = ok.numpy()
            if keep.any():
                pred = net(x[keep].to(self.device)).argmax(1).cpu().numpy()
                wrong += int((pred != self.data.targets[idx.numpy()[keep]]).sum())
                total += int(keep.sum())
            self.images += len(idx)
            task.advance(len(idx))
        task.close()
        wrong, total = map(int, distributed.all_sum([wrong, total]))
        return wrong / total * 100 if total else float("nan")

    @torch.inference_mode()
    def flip_rate(self, net: torch.nn.Module, dc: models.DataConfig, name: str) -> float:
        compare = P.REGISTRY[name][1]
        preds = []
        seed_key = (self.o.seed, 1000 + P.list_perturbations().index(name))
        for frames, idx, ok in self.loader(dc, partial(_sequence, name), seed_key):
            keep = ok.numpy()
            if keep.any():
                b, t = frames[keep].shape[:2]
                logits = net(frames[keep].flatten(0, 1).to(self.device))
                preds.append(logits.argmax(1).view(b, t).cpu().numpy())
            self.images += len(idx) * P.FRAMES
        preds = [p for p in distributed.gather(np.concatenate(preds) if preds else None) if p is not None]
        return P.flip_rate(np.concatenate(preds), compare) if preds else float("nan")

    def attack(self, net: torch.nn.Module, dc: models.DataConfig, kind: str, epsilon: float) -> float:
        correct = total = 0
        gen = torch.Generator().manual_seed(self.o.seed)
        for x, idx, ok in self.loader(dc):
            keep = ok.numpy()
            if not keep.any():
                continue
            x = x[keep].to(self.device)
            y = torch.as_tensor(self.data.targets[idx.numpy()[keep]], device=self.device)
            adv = fgsm(net, x, y, epsilon) if kind == "fgsm" else pgd(net, x, y, epsilon, self.o.steps, gen)
            with torch.no_grad():
                correct += int((net(adv).argmax(1) == y).sum())
            total += len(y)
            self.images += len(y)
        correct, total = map(int, distributed.all_sum([correct, total]))
        return correct / total * 100 if total else float("nan")


# module-level functions (not lambdas), so that DataLoader workers can receive them
def _corrupt(name: str, severity: int, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return C.get(name)(x, severity, rng)


def _sequence(name: str, x: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    return P.REGISTRY[name][0](x, P.FRAMES, rng)


def _settings(o: RobustnessOptions, kind: str) -> str:
    base: dict[str, Any] = {"seed": o.seed, "limit": o.limit, "split": o.split}
    if kind == "corruptions":
        base["severities"] = list(o.severities)
    if kind == "pgd":
        base["steps"] = o.steps
    return json.dumps(base, sort_keys=True)




def _stored(ws: Workspace, ckpt_id: str, kind: str, settings: str) -> Stored:
    params = {"checkpoint_id": ckpt_id, "kind": kind, "settings": settings}
    return {(c, s, m): v for c, s, m, v in ws.rows(query("robustness/reference_rows"), params)}


def evaluate_robustness(ws: Workspace, options: RobustnessOptions, progress: Progress = NULL) -> RobustnessResult:
    """Corruption errors (mCE), perturbation flips (mFR) and attack accuracy of a checkpoint, into evals."""
    started = time.perf_counter()
    validate(options)
    distributed.init()
    s = _Session.open(ws, options, progress)
    if "corruptions" in options.kinds:
        s.corruptions()
    if "flips" in options.kinds:
        s.flips()
    for kind in ("fgsm", "pgd"):
        if kind in options.kinds:
            s.attacks(kind)
    s.result.eval_id = distributed.broadcast(s.result.eval_id)
    with ws.writing("plabel eval --robustness") if distributed.is_main() else nullcontext():
        for c in s.subjects if distributed.is_main() else []:  # rank 0 writes what every rank computed
            if s.rows[c.checkpoint_id]:
                write_rows(ws, s.result.eval_id, c, options.split, s.rows[c.checkpoint_id])
    s.result.seconds = time.perf_counter() - started
    s.result.images_per_s = s.m.images / s.result.seconds if s.result.seconds else 0.0
    return s.result


@dataclass
class _Session:
    """One robustness evaluation: the checkpoint, its reference, their models and the rows to write."""

    ws: Workspace
    o: RobustnessOptions
    ckpt: checkpoints.Checkpoint
    ref: checkpoints.Checkpoint
    m: _Measure
    result: RobustnessResult
    rows: dict[str, list[dict[str, Any]]]
    nets: dict[str, Normalized] = field(default_factory=dict)

    @classmethod
    def open(cls, ws: Workspace, o: RobustnessOptions, progress: Progress) -> _Session:
        ckpt = checkpoints.find(ws, o.checkpoint)
        ref = checkpoints.find(ws, o.reference) if o.reference else checkpoints.find(ws, round=0)
        classes = ws.class_names()
        for c in (ckpt, ref):
            checkpoints.check_classes(c, classes)
        m = _Measure(ws, o, progress)
        result = RobustnessResult(eval_id=uuid.uuid4().hex[:12], checkpoint_id=ckpt.checkpoint_id,
                                  reference_id=ref.checkpoint_id, round=ckpt.round, n=len(m.data))
        return cls(ws, o, ckpt, ref, m, result, {ckpt.checkpoint_id: [], ref.checkpoint_id: []})

    @property
    def subjects(self) -> list[checkpoints.Checkpoint]:
        return [self.ckpt] if self.ref.checkpoint_id == self.ckpt.checkpoint_id else [self.ckpt, self.ref]

    def net(self, c: checkpoints.Checkpoint) -> Normalized:
        if c.checkpoint_id not in self.nets:
            self.nets[c.checkpoint_id] = self.m.model(c)
        return self.nets[c.checkpoint_id]

    def record(self, c: checkpoints.Checkpoint, **row: Any) -> None:
        self.rows[c.checkpoint_id].append(dict(row, n=len(self.m.data)))

    def measured(self, c: checkpoints.Checkpoint, stored: Stored, compute: Callable[[], float], **row: Any) -> float:
        """A measurement the reference already has with these settings, else measured and recorded."""
        value = stored.get((row.get("corruption"), row.get("severity"), row["metric"]))
        if value is None:
            value = compute()
            self.record(c, value=value, **row)
        return value

    def stored_for(self, c: checkpoints.Checkpoint, kind: str, settings: str) -> Stored:
        reuse = c is self.ref and c is not self.ckpt
        return _stored(self.ws, c.checkpoint_id, kind, settings) if reuse else {}

    def corruption_errors(self, c: checkpoints.Checkpoint, names: list[str], settings: str) -> dict[Any, float]:
        """Clean error and the error under each corruption and severity, of one checkpoint."""
        o, stored = self.o, self.stored_for(c, "corruptions", settings)
        row = dict(kind="corruptions", settings=settings)
        clean = self.measured(c, stored, partial(self.error, c, label="clean"), metric="clean_error", **row)
        e: dict[Any, float] = {"clean": clean}
        for name in names:
            for sev in o.severities:
                seed = (o.seed, C.list_corruptions().index(name), sev)
                compute = partial(self.error, c, partial(_corrupt, name, sev), seed, f"{name} s{sev}")
                e[(name, sev)] = self.measured(c, stored, compute, metric="error", corruption=name, severity=sev, **row)
        return e

    def error(self, c: checkpoints.Checkpoint, treat: Treat | None = None, seed_key: tuple[int, ...] = (),
              label: str = "") -> float:
        return self.m.error(self.net(c), c.data_config, treat, seed_key, label)  # the model is built when needed

    def flip_rate(self, c: checkpoints.Checkpoint, name: str) -> float:
        return self.m.flip_rate(self.net(c), c.data_config, name)

    def corruptions(self) -> None:
        o, result = self.o, self.result
        names = list(o.corruptions) or C.list_corruptions()
        settings = _settings(o, "corruptions")
        errors = {c.checkpoint_id: self.corruption_errors(c, names, settings) for c in self.subjects}
        f, r = errors[self.ckpt.checkpoint_id], errors[self.ref.checkpoint_id]
        result.clean_error = f["clean"]
        for name in names:
            result.corruption_errors[name] = {s: f[(name, s)] for s in o.severities}
            result.ce[name] = _ratio(sum(f[(name, s)] for s in o.severities), sum(r[(name, s)] for s in o.severities))
            result.relative_ce[name] = _ratio(
                sum(f[(name, s)] - f["clean"] for s in o.severities),
                sum(r[(name, s)] - r["clean"] for s in o.severities),
            )
        result.mce = float(np.mean(list(result.ce.values())))
        result.relative_mce = float(np.mean(list(result.relative_ce.values())))
        normalised = dict(kind="corruptions", reference_id=self.ref.checkpoint_id, settings=settings)
        for name in names:
            self.record(self.ckpt, metric="ce", corruption=name, value=result.ce[name], **normalised)
            self.record(self.ckpt, metric="relative_ce", corruption=name, value=result.relative_ce[name], **normalised)
        self.record(self.ckpt, metric="mce", value=result.mce, **normalised)
        self.record(self.ckpt, metric="relative_mce", value=result.relative_mce, **normalised)

    def flips(self) -> None:
        o, result = self.o, self.result
        names = list(o.perturbations) or P.list_perturbations()
        settings = _settings(o, "flips")
        rates = {}
        for c in self.subjects:
            stored = self.stored_for(c, "flips", settings)
            rates[c.checkpoint_id] = {
                name: self.measured(
                    c,
                    stored,
                    partial(self.flip_rate, c, name),
                    kind="flips",
                    metric="flip_rate",
                    corruption=name,
                    settings=settings,
                )
                for name in names
            }
        normalised = dict(kind="flips", reference_id=self.ref.checkpoint_id, settings=settings)
        for name in names:
            fv, rv = rates[self.ckpt.checkpoint_id][name], rates[self.ref.checkpoint_id][name]
            result.flip_rates[name] = fv
            result.fr[name] = _ratio(fv, rv)
            self.record(self.ckpt, metric="fr", corruption=name, value=result.fr[name], **normalised)
        finite = [v for v in result.fr.values() if not math.isnan(v)]
        result.mfr = float(np.mean(finite)) if finite else float("nan")
        self.record(self.ckpt, metric="mfr", value=result.mfr, **normalised)

    def attacks(self, kind: str) -> None:
        settings = _settings(self.o, kind)
        for eps in (0.0, *self.o.epsilons) if kind == "fgsm" else self.o.epsilons:
            acc = self.m.attack(self.net(self.ckpt), self.ckpt.data_config, kind, eps)
            getattr(self.result, kind)[round(eps, 6)] = acc
            self.record(self.ckpt, kind=kind, metric="accuracy", epsilon=eps, value=acc, settings=settings)


def _ratio(a: float, b: float) -> float:
    """a / b in percent (mCE and mFR normalise by the reference), NaN when b is 0."""
    return a / b * 100 if b else float("nan")
