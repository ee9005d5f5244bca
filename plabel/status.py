"""`plabel status`: what the workspace holds."""
from __future__ import annotations

from plabel import db
from plabel.workspace import Workspace

SPLIT_CLASS_SQL = """
SELECT split, coalesce(label, true_label) AS class, label IS NULL AND true_label IS NOT NULL AS withheld,
       count(*) AS images
FROM images GROUP BY ALL ORDER BY split, class
"""
SPLITS_SQL = "SELECT split, count(*) FROM images GROUP BY split ORDER BY split"
REJECTS_SQL = """
SELECT stage, split_part(reason, ':', 1) AS reason, count(*) AS files
FROM rejects GROUP BY ALL ORDER BY files DESC, stage, reason
"""
ROUNDS_SQL = """
WITH r AS (
    SELECT round FROM checkpoints UNION SELECT round FROM predictions
    UNION SELECT round FROM manifests
)
SELECT r.round,
       (SELECT count(*) FROM checkpoints c WHERE c.round = r.round) AS checkpoints,
       (SELECT count(*) FROM predictions p WHERE p.round = r.round) AS predictions,
       (SELECT count(*) FROM manifests m WHERE m.round = r.round) AS manifest_rows
FROM r ORDER BY r.round
"""


def status(ws: Workspace) -> dict:
    con = ws.connect()
    try:
        splits = dict(con.execute(SPLITS_SQL).fetchall())
        per_class = [
            dict(split=s, cls=c, withheld=w, images=n) for s, c, w, n in con.execute(SPLIT_CLASS_SQL).fetchall()
        ]
        rejects = [dict(stage=s, reason=r, files=n) for s, r, n in con.execute(REJECTS_SQL).fetchall()]
        rounds = [
            dict(round=r, checkpoints=c, predictions=p, manifest_rows=m)
            for r, c, p, m in con.execute(ROUNDS_SQL).fetchall()
        ]
        return {
            "workspace": str(ws.root),
            "classes": [r[0] for r in con.execute("SELECT name FROM classes ORDER BY class_id").fetchall()],
            "images": sum(splits.values()),
            "splits": splits,
            "per_class": [
                {"split": d["split"], "class": d["cls"], "withheld": d["withheld"], "images": d["images"]}
                for d in per_class
            ],
            "aliases": db.scalar(con, "SELECT count(*) FROM aliases"),
            "rejects": rejects,
            "rejected": sum(r["files"] for r in rejects),
            "rounds": rounds,
            "catalog": ws.catalog_state(),
        }
    finally:
        con.close()
