"""`plabel status`: what the workspace holds."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plabel import db
from plabel.queries import query
from plabel.workspace import Workspace

THRESHOLD_COLUMNS = ("round", "signal", "scope", "threshold", "source", "recall", "fpr", "note")


@dataclass(kw_only=True)
class StatusResult:
    workspace: str
    classes: list[str]
    images: int  # every split
    splits: dict[str, int]  # images per split
    per_class: list[dict[str, Any]] = field(default_factory=list)  # split, class, withheld, images
    aliases: int = 0  # paths that are the same bytes as an image already in
    rejects: list[dict[str, Any]] = field(default_factory=list)  # stage, reason, files
    rejected: int = 0
    rounds: list[dict[str, Any]] = field(default_factory=list)  # round, checkpoints, predictions, manifest_rows
    dedup_thresholds: list[dict[str, Any]] = field(default_factory=list)  # the newest round's
    catalog: str = "fresh"  # catalog.duckdb: fresh, stale, missing, corrupt or foreign


def status(ws: Workspace) -> StatusResult:
    with ws.connect() as con:
        splits = dict(db.rows(con, query("status/splits")))
        rejects = [dict(stage=s, reason=r, files=n) for s, r, n in db.rows(con, query("status/rejects"))]
        return StatusResult(
            workspace=str(ws.root),
            classes=[name for _, name in db.rows(con, query("workspace/classes"))],
            images=sum(splits.values()),
            splits=splits,
            per_class=[{"split": s, "class": c, "withheld": w, "images": n}
                       for s, c, w, n in db.rows(con, query("status/split_class"))],
            aliases=db.scalar(con, query("status/aliases")),
            rejects=rejects,
            rejected=sum(r["files"] for r in rejects),
            rounds=[dict(round=r, checkpoints=c, predictions=p, manifest_rows=m)
                    for r, c, p, m in db.rows(con, query("status/rounds"))],
            dedup_thresholds=[dict(zip(THRESHOLD_COLUMNS, r, strict=True))
                              for r in db.rows(con, query("status/dedup_thresholds"))],
            catalog=ws.catalog_state(),
        )
