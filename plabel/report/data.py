"""What the report shows, read with DuckDB aggregates (no table is loaded whole)."""
from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field

import numpy as np

from plabel.drift import rounds as round_rows
from plabel.images import RejectedImage, load_rgb
from plabel.workspace import Workspace

MAX_CLASSES = 30  # classes drawn in per-class plots and sample grids; the rest are noted
MAX_TABLE_ROWS = 50
SAMPLES = 4  # thumbnails per confidence bucket
THUMB = 48
BINS = 20

HIST_SQL = """
SELECT class_id, least(floor(confidence * $bins), $bins - 1)::INTEGER AS bin, count(*) AS n
FROM predictions WHERE round = $round AND split = 'unlabeled' GROUP BY ALL
"""
FUNNEL_SQL = """
SELECT s.class_id, c.name, s.predicted, s.above_threshold, s.after_dedup, s.selected, s.copies, s.cutoff
FROM selection_classes s JOIN classes c USING (class_id) WHERE s.round = ? ORDER BY s.class_id
"""
SELECTION_SQL = (
    "SELECT threshold, per_class, balance, labels, n_labeled, n_pseudo, n_pseudo_copies FROM selections WHERE round = ?"
)
# the classes worth drawing: the most selected (then the most predicted)
TOP_CLASSES_SQL = """
SELECT c.class_id, c.name, coalesce(s.selected, 0) AS selected, coalesce(p.n, 0) AS predicted
FROM classes c
LEFT JOIN (SELECT target AS class_id, count(*) AS selected FROM manifests
           WHERE round = $round AND origin = 'pseudo' GROUP BY 1) s USING (class_id)
LEFT JOIN (SELECT class_id, count(*) AS n FROM predictions
           WHERE round = $round AND split = 'unlabeled' GROUP BY 1) p USING (class_id)
ORDER BY selected DESC, predicted DESC, c.class_id
LIMIT $limit
"""
# selected pseudo labels of a class ranked by confidence: the top, the middle and the lowest
SAMPLES_SQL = """
WITH sel AS (
    SELECT m.image_id, m.confidence, row_number() OVER (ORDER BY m.confidence DESC, m.image_id) AS r,
           count(*) OVER () AS n
    FROM manifests m WHERE m.round = $round AND m.origin = 'pseudo' AND m.target = $class_id
)
SELECT CASE WHEN r <= $k THEN 'high' WHEN r > n - $k THEN 'threshold' ELSE 'medium' END AS bucket,
       s.image_id, s.confidence, any_value(i.path) AS path, any_value(i.true_label) AS true_label
FROM sel s JOIN images i ON i.image_id = s.image_id AND i.split = 'unlabeled'
WHERE r <= $k OR r > n - $k OR abs(r - n / 2) < $k / 2
GROUP BY ALL ORDER BY s.confidence DESC
"""
REJECTED_SQL = """
SELECT 'rejected' AS bucket, p.image_id, p.confidence, any_value(i.path) AS path, any_value(i.true_label) AS true_label
FROM predictions p JOIN images i ON i.image_id = p.image_id AND i.split = 'unlabeled'
WHERE p.round = $round AND p.split = 'unlabeled' AND p.class_id = $class_id AND p.confidence < CAST($threshold AS FLOAT)
GROUP BY ALL ORDER BY p.confidence DESC LIMIT $k
"""
GROUPS_SQL = """
WITH g AS (SELECT group_id, scope, count(*) AS size FROM duplicates WHERE round = $round GROUP BY ALL)
SELECT d.group_id, d.scope, d.image_id, d.similarity, d.excluded, g.size,
       (SELECT any_value(path) FROM images i WHERE i.image_id = d.image_id) AS path,
       (SELECT any_value(path) FROM images i WHERE i.image_id = d.duplicate_of) AS other_path
FROM duplicates d JOIN g USING (group_id, scope)
WHERE d.round = $round AND d.kind = 'near'
  AND d.group_id IN (SELECT group_id FROM g ORDER BY size DESC, group_id LIMIT $limit)
QUALIFY row_number() OVER (PARTITION BY d.group_id, d.scope ORDER BY d.excluded, d.image_id) <= $members
ORDER BY g.size DESC, d.group_id, d.excluded, d.image_id
"""
GROUP_MEMBERS = 12
NEGATIVE_SQL = """
SELECT image_id, split, true_name, label_a, label_b, confidence_a, confidence_b FROM negative_flips
WHERE round_a = ? AND round_b = ? AND kind = 'negative' ORDER BY confidence_b DESC LIMIT ?
"""
ROBUSTNESS_SQL = """
SELECT checkpoint_id, kind, metric, epsilon, arg_max(value, evaluated_at) AS value
FROM evals WHERE kind <> 'clean' AND metric IN ('mce', 'relative_mce', 'mfr', 'accuracy')
GROUP BY ALL
"""


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


def thumbnail(ws: Workspace, path: str | None) -> str | None:
    if path is None:
        return None
    try:
        im = load_rgb(str(ws.resolve_path(path)))
    except RejectedImage:
        return None
    im.thumbnail((THUMB, THUMB))
    buf = io.BytesIO()
    im.save(buf, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def rounds_overview(ws: Workspace) -> tuple[list[dict], dict]:
    """round_summary rows, and robustness numbers by checkpoint."""
    rows = round_rows(ws)
    robust: dict[str, dict] = {}
    for ckpt, kind, metric, eps, value in ws.rows(ROBUSTNESS_SQL):
        key = f"{kind} {eps * 255:.0f}/255" if metric == "accuracy" else metric
        robust.setdefault(ckpt, {})[key] = value
    return rows, robust


def histograms(
    ws: Workspace, round: int, names: dict[int, str]
) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    edges = np.arange(BINS) / BINS
    overall = np.zeros(BINS)
    per_class: dict[int, np.ndarray] = {}
    for class_id, b, n in ws.rows(HIST_SQL, {"round": round, "bins": BINS}):
        overall[b] += n
        per_class.setdefault(class_id, np.zeros(BINS))[b] += n
    return edges, overall, per_class


def samples(ws: Workspace, round: int, classes: list[tuple[int, str]], threshold: float | None) -> list[ClassSamples]:
    out = []
    for class_id, name in classes:
        cs = ClassSamples(class_id, name, {"high": [], "medium": [], "threshold": [], "rejected": []})
        rows = ws.rows(SAMPLES_SQL, {"round": round, "class_id": class_id, "k": SAMPLES})
        rows += ws.rows(REJECTED_SQL, {"round": round, "class_id": class_id, "threshold": threshold, "k": SAMPLES})
        for bucket, image_id, conf, path, truth in rows:
            if len(cs.buckets[bucket]) < SAMPLES:
                cs.buckets[bucket].append(
                    Thumb(image_id, float(conf), thumbnail(ws, path), truth, truth is not None and truth != name)
                )
        out.append(cs)
    return out


def duplicate_groups(ws: Workspace, round: int, limit: int = 8) -> list[dict]:
    groups: dict[tuple, dict] = {}
    params = {"round": round, "limit": limit, "members": GROUP_MEMBERS}
    for group_id, scope, image_id, sim, excluded, size, path, other in ws.rows(GROUPS_SQL, params):
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
