"""Checkpoints: safetensors weights plus a JSON config, named by the hash of their content.

    checkpoints/<id>/config.json        model, classes, data config, options, lineage, metrics
    checkpoints/<id>/model.safetensors  the trained weights
    checkpoints/<id>/ema.safetensors    their exponential moving average (when kept)

Nothing is unpickled: safetensors holds tensors only, the config is JSON, and the model's code
comes from timm by name. Loading re-hashes the files, so a corrupt checkpoint is named as such.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from plabel import models, storage
from plabel.errors import CheckpointError, UnknownCheckpoint, UsageError
from plabel.queries import query
from plabel.schema import table
from plabel.workspace import Workspace

CONFIG, WEIGHTS, EMA = "config.json", "model.safetensors", "ema.safetensors"
ID_LENGTH = 16
FORMAT = 1


@dataclass(frozen=True)
class Checkpoint:
    checkpoint_id: str
    folder: Path
    config: dict[str, Any]

    @property
    def round(self) -> int:
        return int(self.config["round"])

    @property
    def classes(self) -> list[str]:
        return list(self.config["classes"])

    @property
    def data_config(self) -> models.DataConfig:
        return models.DataConfig.from_dict(self.config["data_config"])

    @property
    def has_ema(self) -> bool:
        return (self.folder / EMA).exists()


def state_dict_for_save(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    # clone: safetensors refuses tensors that share memory (tied weights)
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in module.state_dict().items()}


_ID = re.compile(f"[0-9a-f]{{{ID_LENGTH}}}")


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for name in (CONFIG, WEIGHTS, EMA):
        p = folder / name
        if p.exists():
            h.update(name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:ID_LENGTH]


def save(ws: Workspace, model: torch.nn.Module, ema: torch.nn.Module | None, config: dict[str, Any]) -> Checkpoint:
    """Write a checkpoint atomically and register it in the `checkpoints` table (idempotent)."""
    config = dict(config, format=FORMAT)
    staging = ws.checkpoints_dir / f".staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        save_file(state_dict_for_save(model), str(staging / WEIGHTS))
        if ema is not None:
            save_file(state_dict_for_save(ema), str(staging / EMA))
        (staging / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True))
        ckpt_id = _digest(staging)
        final = ws.checkpoints_dir / ckpt_id
        if not final.exists():  # else the same content is there already
            storage.commit_dir(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _register(ws, ckpt_id, config)
    return Checkpoint(ckpt_id, final, config)


def _register(ws: Workspace, ckpt_id: str, config: dict[str, Any]) -> None:
    # One file per checkpoint, named by its id: registering twice rewrites the same row.
    row = {
        "checkpoint_id": ckpt_id,
        "round": config["round"],
        "kind": config["kind"],
        "model": config["model"],
        "parent_id": config.get("parent_id"),
        "manifest_hash": config["manifest"]["hash"],
        "manifest_path": config["manifest"]["path"],
        "run_id": config["run_id"],
        "num_classes": config["num_classes"],
        "img_size": config["data_config"]["input_size"][-1],
        "val_top1": config.get("metrics", {}).get("val_top1"),
        "path": f"checkpoints/{ckpt_id}",
        "config": json.dumps(config, sort_keys=True),
        "created_at": datetime.now(timezone.utc),
    }
    dest = ws.table_dir("checkpoints") / f"{ckpt_id}.parquet"
    if not dest.exists():
        storage.write_rows([row], dest, table("checkpoints"))




def find(ws: Workspace, ref: str | None = None, round: int | None = None) -> Checkpoint:
    """A checkpoint by id (or unique prefix), `latest`, or the newest of a round."""
    if ref is not None and not ref.strip():
        raise UsageError("`checkpoint` is empty: give a checkpoint id (or prefix), or latest")
    prefix = None if ref in (None, "latest") else ref
    ids = [r[0] for r in ws.rows(query("checkpoints/find"), {"round": round, "prefix": prefix})]
    bad = [i for i in ids if not _ID.fullmatch(i)]
    if bad:  # the id names a folder: a crafted row must not lead outside checkpoints/
        raise CheckpointError(f"the checkpoints table holds an invalid id {bad[0]!r} (expected {ID_LENGTH} hex digits)")
    if not ids:
        where = f" in round {round}" if round is not None else ""
        what = f"checkpoint {ref!r}" if prefix else "checkpoint"
        raise UnknownCheckpoint(f"no {what}{where}; see `plabel sql \"SELECT checkpoint_id, round FROM checkpoints\"`")
    if prefix and len(ids) > 1 and ids[0] != prefix:
        raise UsageError(f"checkpoint prefix {ref!r} is ambiguous: {', '.join(ids[:5])}")
    folder = ws.checkpoints_dir / ids[0]
    if folder.is_symlink():
        raise CheckpointError(f"checkpoint {ids[0]}: {folder} is a symbolic link; plabel refuses to follow it")
    return open_folder(folder)


def open_folder(folder: Path) -> Checkpoint:
    """Open a checkpoint folder, checking its files against its id."""
    folder = Path(folder)
    config_path = folder / CONFIG
    if not config_path.is_file() or not (folder / WEIGHTS).is_file():
        raise CheckpointError(f"checkpoint {folder.name}: {CONFIG} or {WEIGHTS} is missing in {folder}")
    try:
        config = json.loads(config_path.read_text())
    except ValueError as e:
        raise CheckpointError(f"checkpoint {folder.name}: {CONFIG} is not valid JSON ({e})") from None
    if _digest(folder) != folder.name:
        raise CheckpointError(f"checkpoint {folder.name}: its files do not match its id (corrupt or modified)")
    return Checkpoint(folder.name, folder, config)


def build_model(ckpt: Checkpoint, use_ema: bool = True, device: torch.device | str = "cpu") -> torch.nn.Module:
    """The checkpoint's model in eval mode, EMA weights when present and asked for."""
    cfg = ckpt.config
    built = models.ModelOptions(in_chans=cfg["in_chans"], img_size=cfg["data_config"]["input_size"][-1])
    model = models.create(cfg["model"], cfg["num_classes"], built)
    name = EMA if use_ema and ckpt.has_ema else WEIGHTS
    load_weights(model, ckpt.folder / name, ckpt.checkpoint_id)
    return model.to(device).eval()


def load_weights(model: torch.nn.Module, path: Path, label: str) -> None:
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"checkpoint {label}: {path.name} is corrupt ({e})") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()][:3]
        raise CheckpointError(f"checkpoint {label}: config and weights do not match: {' '.join(lines)[:300]}") from None


def check_classes(ckpt: Checkpoint, classes: list[str]) -> None:
    if ckpt.classes != classes:
        raise UsageError(
            f"checkpoint {ckpt.checkpoint_id} was trained on other classes ({len(ckpt.classes)}: "
            f"{', '.join(ckpt.classes[:5])}...) than the workspace's ({len(classes)}: {', '.join(classes[:5])}...)"
        )
