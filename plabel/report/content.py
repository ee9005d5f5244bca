"""What the report shows, read with DuckDB aggregates (no table is loaded whole)."""
from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from plabel.drift import RoundRow
from plabel.drift import rounds as round_rows
from plabel.images import RejectedImage, load_rgb
from plabel.queries import query
from plabel.workspace import Workspace

MAX_CLASSES = 30  # classes drawn in per-class plots and sample grids; the rest are noted
MAX_TABLE_ROWS = 50
SAMPLES = 4  # thumbnails per confidence bucket
THUMB = 48
BINS = 20

# the classes worth drawing: the most selected (then the most predicted)
# selected pseudo labels of a class ranked by confidence: the top, the middle and the lowest
GROUP_MEMBERS = 12
MAX_DIAGRAMS = 12  # reliability diagrams drawn at most; the calibration table lists every checkpoint


@dataclass
class Thumb:
    image_id: str
    confidence: float
    data_uri: str | None
    true_label: str | None
    wrong: bool


@dataclass
class ClassSamples:
    class_id: int
    name: str
    buckets: dict[str, list[Thumb]] = field(default_factory=dict)


def thumbnail(ws: Workspace, where: tuple[Any, ...]) -> str | None:
    """A data URL of the image read from (path, shard, member_offset, bytes), or None."""
    if where[0] is None:
        return None
    try:
        im = load_rgb(ws.source(*where))
    except RejectedImage:
        return None
    im.thumbnail((THUMB, THUMB))
    buf = io.BytesIO()
    im.save(buf, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def rounds_overview(ws: Workspace) -> tuple[list[RoundRow], dict[str, Any]]:
    """round_summary rows, and robustness numbers by checkpoint."""
    rows = round_rows(ws)
    robust: dict[str, dict[str, Any]] = {}
    for ckpt, kind, metric, eps, value in ws.rows(query("report/robustness")):
        key = f"{kind} {eps * 255:.0f}/255" if metric == "accuracy" else metric
        robust.setdefault(ckpt, {})[key] = value
    return rows, robust


def histograms(
    ws: Workspace, round: int, names: dict[int, str]
) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    edges = np.arange(BINS) / BINS
    overall = np.zeros(BINS)
    per_class: dict[int, np.ndarray] = {}
    for class_id, b, n in ws.rows(query("report/hist"), {"round": round, "bins": BINS}):
        overall[b] += n
        per_class.setdefault(class_id, np.zeros(BINS))[b] += n
    return edges, overall, per_class


def samples(ws: Workspace, round: int, classes: list[tuple[int, str]],
            thresholds: dict[int, float | None]) -> list[ClassSamples]:
    out = []
    for class_id, name in classes:
        cs = ClassSamples(class_id, name, {"high": [], "medium": [], "threshold": [], "rejected": []})
        rows = ws.rows(query("report/samples"), {"round": round, "class_id": class_id, "k": SAMPLES})
        rows += ws.rows(
            query("report/rejected"),
            {"round": round, "class_id": class_id, "threshold": thresholds.get(class_id), "k": SAMPLES},
        )
        for bucket, image_id, conf, truth, *where in rows:
            if len(cs.buckets[bucket]) < SAMPLES:
                cs.buckets[bucket].append(
                    Thumb(image_id, float(conf), thumbnail(ws, tuple(where)), truth,
                          truth is not None and truth != name)
                )
        out.append(cs)
    return out


def duplicate_groups(ws: Workspace, round: int, limit: int = 8) -> list[dict[str, Any]]:
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    params = {"round": round, "limit": limit, "members": GROUP_MEMBERS}
    for group_id, scope, image_id, sim, excluded, size, *where in ws.rows(query("report/groups"), params):
        path, other = tuple(where[:4]), tuple(where[4:])
        g = groups.setdefault((group_id, scope), {"group_id": group_id, "scope": scope, "size": size, "members": []})
        if scope != "unlabeled" and not g["members"]:
            g["members"].append(
                {
                    "image_id": group_id,
                    "similarity": 1.0,
                    "excluded": False,
                    "role": scope,
                    "thumb": thumbnail(ws, other),
                }
            )
        g["members"].append(
            {
                "image_id": image_id,
                "similarity": float(sim),
                "excluded": bool(excluded),
                "role": "excluded" if excluded else "kept",
                "thumb": thumbnail(ws, path),
            }
        )
    return list(groups.values())
