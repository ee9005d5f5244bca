"""`plabel select --what-if`: per class and threshold, what a selection would keep and how right it would be."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from plabel import db
from plabel.queries import query
from plabel.selection.auto import lower_bound, prepare_evidence
from plabel.selection.options import SelectOptions, validate
from plabel.selection.plan import check_round

if TYPE_CHECKING:
    from plabel.workspace import Workspace

GRID = tuple(round(0.05 * i, 2) for i in range(1, 20))  # 0.05 .. 0.95, the thresholds tried


def threshold_what_if(ws: Workspace, o: SelectOptions, grid: tuple[float, ...] = GRID) -> list[dict[str, Any]]:
    """Per class and threshold of `grid`: unlabeled images above it after dedup (before balancing),
    the val images predicted as the class above it with their correct share and its lower bound,
    and the true precision where the pool carries withheld labels. Nothing is written."""
    validate(o)
    check_round(ws, o.round)
    with ws.connect() as con:
        db.execute(con, query("selection/excluded"), {"round": o.round, "keep_duplicates": o.keep_duplicates})
        prepare_evidence(con, o.round)
        with db.registered(con, "grid", pa.table({"t": pa.array(sorted(set(grid)), pa.float64())})):
            pool = db.rows(con, query("selection/what_if_pool"), {"round": o.round})
            val = db.rows(con, query("selection/what_if_val"), {"round": o.round})
        names = dict(db.rows(con, query("workspace/classes")))
    checked = {(c, t): (n, k) for t, c, n, k in val}
    out = []
    for t, c, images, with_truth, right in pool:
        n, k = checked.get((c, t), (0, 0))
        out.append({
            "class": names[c], "class_id": c, "threshold": t, "images": images, "val_images": n,
            "val_precision": k / n if n else None, "val_lower_bound": float(lower_bound(k, n)) if n else None,
            "true_precision": right / with_truth if with_truth else None,
        })
    return sorted(out, key=lambda r: (r["class_id"], r["threshold"]))


__all__ = ["GRID", "threshold_what_if"]
