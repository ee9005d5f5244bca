"""`plabel train`: the teacher (round 0) and the noised students, from manifests.

One concept per module: `options` (TrainOptions, validate), `plan` (resolve the options, the
manifest and the lineage: `plan_run`), `build` (model, optimizer, schedule, EMA), `state` (the
training state saved atomically after each epoch), `epoch` (draws, the mixed loss, divergence)
and `run` (`train`). A killed run resumes from its last saved epoch and, with the same seed,
ends with the same weights as an uninterrupted run.

The names below load their module on first use, so that `plabel.train.options` (what the CLI
needs for its defaults) does not import torch.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plabel.train.options import NOISE, OPTIMIZERS, TrainOptions, TrainResult, validate
    from plabel.train.plan import RunPlan, plan_run
    from plabel.train.run import train

_WHERE = {"NOISE": "options", "OPTIMIZERS": "options", "TrainOptions": "options", "TrainResult": "options",
          "validate": "options", "RunPlan": "plan", "plan_run": "plan", "train": "run"}
__all__ = ["NOISE", "OPTIMIZERS", "RunPlan", "TrainOptions", "TrainResult", "plan_run", "train", "validate"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
