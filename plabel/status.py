"""`plabel status`: what the workspace holds."""
from __future__ import annotations

from typing import Any

from plabel import db
from plabel.queries import query
from plabel.workspace import Workspace


def status(ws: Workspace) -> dict[str, Any]:
    with ws.connect() as con:
        splits = dict(db.rows(con, query("status/splits")))
        per_class = [
            dict(split=s, cls=c, withheld=w, images=n) for s, c, w, n in db.rows(con, query("status/split_class"))
        ]
        rejects = [dict(stage=s, reason=r, files=n) for s, r, n in db.rows(con, query("status/rejects"))]
        rounds = [
            dict(round=r, checkpoints=c, predictions=p, manifest_rows=m)
            for r, c, p, m in db.rows(con, query("status/rounds"))
        ]
        return {
            "workspace": str(ws.root),
            "classes": [name for _, name in db.rows(con, query("workspace/classes"))],
            "images": sum(splits.values()),
            "splits": splits,
            "per_class": [
                {"split": d["split"], "class": d["cls"], "withheld": d["withheld"], "images": d["images"]}
                for d in per_class
            ],
            "aliases": db.scalar(con, query("status/aliases")),
            "rejects": rejects,
            "rejected": sum(r["files"] for r in rejects),
            "rounds": rounds,
            "dedup_thresholds": [
                dict(zip(("round", "signal", "scope", "threshold", "source", "recall", "fpr", "note"), r, strict=True))
                for r in db.rows(con, query("status/dedup_thresholds"))
            ],
            "catalog": ws.catalog_state(),
        }
