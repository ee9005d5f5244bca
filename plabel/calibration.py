"""`plabel calibrate`: temperature scaling of a checkpoint, fitted on labeled held-out images.

A network's softmax is usually over-confident after training on few labels; one temperature T,
fitted by minimising the negative log-likelihood of the val split's logits (Guo et al., 2017),
makes confidences closer to accuracies without changing any prediction. The fit, the expected
calibration error (ECE) before and after, and a reliability diagram's bins are written to the
`calibrations` table; `plabel infer --temperature auto` then predicts at the fitted T.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np

from plabel.errors import UsageError, check_fields
from plabel.progress import NULL, Progress
from plabel.values import as_dict
from plabel.workspace import Workspace

if TYPE_CHECKING:
    from plabel.eval_options import CalibrateOptions

BINS = 15  # of the reliability diagram and the ECE (the usual choice since Guo et al.)
T_RANGE = (0.05, 20.0)  # temperatures searched


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits.astype(np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def nll(logits: np.ndarray, targets: np.ndarray, temperature: float = 1.0) -> float:
    p = softmax(logits, temperature)[np.arange(len(targets)), targets]
    return float(-np.log(np.clip(p, 1e-300, None)).mean())


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The T minimising the negative log-likelihood (searched on log T, bounded)."""
    from scipy.optimize import minimize_scalar

    lo, hi = np.log(T_RANGE[0]), np.log(T_RANGE[1])
    r = minimize_scalar(lambda t: nll(logits, targets, float(np.exp(t))), bounds=(lo, hi), method="bounded",
                        options={"xatol": 1e-4})
    return float(np.exp(r.x))


@dataclass
class Reliability:
    """Per confidence bin: images, their mean confidence, their accuracy."""

    count: list[int]
    confidence: list[float]
    accuracy: list[float]

    def ece(self) -> float:
        n = sum(self.count)
        return sum(c * abs(a - p) for c, p, a in zip(self.count, self.confidence, self.accuracy, strict=True)) / n \
            if n else float("nan")


def reliability(probs: np.ndarray, targets: np.ndarray, bins: int = BINS) -> Reliability:
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    which = np.minimum((conf * bins).astype(int), bins - 1)
    count = np.bincount(which, minlength=bins)
    total_conf = np.bincount(which, weights=conf, minlength=bins)
    total_right = np.bincount(which, weights=(pred == targets).astype(float), minlength=bins)
    safe = np.maximum(count, 1)
    return Reliability(count.tolist(), (total_conf / safe).tolist(), (total_right / safe).tolist())


@dataclass(kw_only=True)
class CalibrationResult:
    calibration_id: str
    checkpoint_id: str
    split: str
    images: int
    temperature: float
    ece_before: float
    ece_after: float
    nll_before: float
    nll_after: float
    reliability_before: dict[str, Any] = field(default_factory=dict)
    reliability_after: dict[str, Any] = field(default_factory=dict)



def fit(logits: np.ndarray, targets: np.ndarray) -> tuple[float, Reliability, Reliability]:
    """The temperature, and the reliability bins before and after it."""
    if len(targets) == 0:
        raise UsageError("no labeled images to calibrate on")
    t = fit_temperature(logits, targets)
    return t, reliability(softmax(logits), targets), reliability(softmax(logits, t), targets)


def calibrate(ws: Workspace, options: CalibrateOptions, progress: Progress = NULL) -> CalibrationResult:
    """Fit a checkpoint's temperature on a labeled split and record it."""
    from plabel import checkpoints, distributed, holdout, models
    from plabel.evaluate import labeled_split, predict_logits

    o, checkpoint, split = options, options.checkpoint, options.split
    distributed.init()
    check_fields(o)
    ckpt = checkpoints.find(ws, checkpoint)
    checkpoints.check_classes(ckpt, ws.class_names())
    data = holdout.labeled(ws, ckpt.checkpoint_id, o.limit) if split == "holdout" else labeled_split(ws, split, o.limit)
    if not len(data):
        raise UsageError(f"no labeled {split} images: `plabel ingest DIR --split {split}` adds some"
                         if split != "holdout" else f"checkpoint {ckpt.checkpoint_id} was trained on every labeled "
                         f"train image: train it with `holdout` 0.2 to keep a share out")
    model = checkpoints.build_model(ckpt, use_ema=o.use_ema, device=models.resolve_device(o.device))
    logits, bad = predict_logits(model, data.files, ckpt.data_config, o, progress, f"calibrate on {split}")
    ok = np.array([i not in bad for i in range(len(data))], dtype=bool)
    logits, targets = logits[ok], data.targets[ok]
    t, before, after = fit(logits, targets)
    result = CalibrationResult(calibration_id=uuid.uuid4().hex[:12], checkpoint_id=ckpt.checkpoint_id, split=split,
                               images=int(ok.sum()), temperature=t, ece_before=before.ece(), ece_after=after.ece(),
                               nll_before=nll(logits, targets), nll_after=nll(logits, targets, t),
                               reliability_before=before.__dict__, reliability_after=after.__dict__)
    result.calibration_id = distributed.broadcast(result.calibration_id)
    if distributed.is_main():  # every rank fitted the same T on the gathered logits; one writes it
        with ws.writing("plabel calibrate"):
            _write(ws, result)
    return result


def _write(ws: Workspace, r: CalibrationResult) -> None:
    from plabel import storage
    from plabel.schema import table

    row = {k: v for k, v in as_dict(r).items() if not k.startswith("reliability")}
    row.update(bin_count=r.reliability_after["count"], bin_confidence=r.reliability_after["confidence"],
               bin_accuracy=r.reliability_after["accuracy"], bin_count_before=r.reliability_before["count"],
               bin_confidence_before=r.reliability_before["confidence"],
               bin_accuracy_before=r.reliability_before["accuracy"], calibrated_at=datetime.now(timezone.utc))
    storage.write_rows([row], ws.table_dir("calibrations") / storage.part_name(), table("calibrations"))


def fitted_temperature(ws: Workspace, checkpoint_id: str) -> float:
    """The newest temperature `plabel calibrate` fitted for the checkpoint."""
    from plabel.queries import query

    rows = ws.rows(query("calibration/temperature"), {"checkpoint_id": checkpoint_id})
    if not rows:
        raise UsageError(f"checkpoint {checkpoint_id} was never calibrated: run `plabel calibrate --checkpoint "
                         f"{checkpoint_id}` (it fits the temperature on the val split)")
    return float(rows[0][0])
