"""The full training state after each epoch, for an exact resume."""
from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from plabel import checkpoints, distributed, storage
from plabel.train.build import Parts


def _state_dirs(run_dir: Path) -> list[Path]:
    return sorted(p for p in run_dir.glob("epoch-*") if p.is_dir())


def save_state(run_dir: Path, parts: Parts, epoch: int, step: int, history: list[dict[str, Any]]) -> None:
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
        "world_size": distributed.world(),
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


def load_state(run_dir: Path, parts: Parts) -> tuple[int, int, list[dict[str, Any]], int] | None:
    """(epoch, step, history, world size) of the newest saved state, loaded into the parts."""
    dirs = _state_dirs(run_dir)
    if not dirs:
        return None
    state_dir = dirs[-1]
    meta = json.loads((state_dir / "state.json").read_text())
    tensors = load_file(str(state_dir / "state.safetensors"))
    parts.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    if parts.ema is not None:
        parts.ema.module.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    state: dict[int, dict[str, Any]] = {}
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
    return meta["epoch"], meta["step"], meta["history"], int(meta.get("world_size", 1))
