"""What a prediction row holds: probabilities summarised, as Arrow tables of the schema."""
from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import torch


def list_array(values: np.ndarray, arrow_type: pa.DataType) -> pa.ListArray:
    n, k = values.shape
    offsets = pa.array(np.arange(0, (n + 1) * k, k, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(values.reshape(-1), type=arrow_type))


class Rows:
    """Column buffers of finished rows, written as one part file per flush."""

    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = {}
        self.n = 0

    def add(self, **cols: Any) -> None:
        for k, v in cols.items():
            self.cols.setdefault(k, []).append(v)
        self.n += len(next(iter(cols.values())))

    def take(self) -> dict[str, np.ndarray | list[Any]]:
        out = {k: (np.concatenate(v) if isinstance(v[0], np.ndarray) else [x for part in v for x in part])
               for k, v in self.cols.items()}
        self.cols, self.n = {}, 0
        return out


def predictions_table(c: dict[str, Any], checkpoint_id: str, temperature: float, full: bool) -> pa.Table:
    n = len(c["image_id"])
    return pa.table(
        {
            "image_id": pa.array(c["image_id"], pa.string()),
            "split": pa.array(c["split"], pa.string()),
            "checkpoint_id": pa.array([checkpoint_id] * n, pa.string()),
            "class_id": pa.array(c["index"][:, 0].astype(np.int32)),
            "confidence": pa.array(c["prob"][:, 0].astype(np.float32)),
            "margin": pa.array(c["margin"].astype(np.float32)),
            "entropy": pa.array(c["entropy"].astype(np.float32)),
            "index": list_array(c["index"].astype(np.int32), pa.int32()),
            "prob": list_array(c["prob"].astype(np.float32), pa.float32()),
            "probs": list_array(c["probs"].astype(np.float16), pa.float16())
            if full
            else pa.nulls(n, pa.list_(pa.float16())),
            "temperature": pa.array(np.full(n, temperature, np.float32)),
        }
    )


def embeddings_table(c: dict[str, Any], checkpoint_id: str) -> pa.Table:
    n = len(c["image_id"])
    return pa.table(
        {
            "image_id": pa.array(c["image_id"], pa.string()),
            "split": pa.array(c["split"], pa.string()),
            "checkpoint_id": pa.array([checkpoint_id] * n, pa.string()),
            "embedding": list_array(c["embedding"].astype(np.float16), pa.float16()),
        }
    )


def summarize(logits: torch.Tensor, temperature: float, topk: int) -> dict[str, np.ndarray]:
    """Probabilities at temperature T and what a prediction row keeps of them."""
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    k = min(max(topk, 2), probs.shape[1])
    top_p, top_i = probs.topk(k, dim=-1)
    margin = top_p[:, 0] - top_p[:, 1] if k > 1 else torch.ones_like(top_p[:, 0])
    entropy = -(probs * torch.log(probs.clamp_min(1e-30))).sum(-1)
    keep = min(topk, probs.shape[1])
    return {
        "index": top_i[:, :keep].cpu().numpy(),
        "prob": top_p[:, :keep].cpu().numpy(),
        "margin": margin.cpu().numpy(),
        "entropy": entropy.cpu().numpy(),
        "probs": probs.cpu().numpy(),
    }


def forward(model: torch.nn.Module, x: torch.Tensor, want_features: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    if not want_features:
        out: torch.Tensor = model(x)
        return out, None
    net: Any = model  # a timm model: forward_features, forward_head and get_classifier are its own
    feats = net.forward_head(net.forward_features(x), pre_logits=True)
    logits = net.get_classifier()(feats) if hasattr(net, "get_classifier") else net.forward_head(feats)
    return logits, torch.nn.functional.normalize(feats.float().flatten(1), dim=1)
