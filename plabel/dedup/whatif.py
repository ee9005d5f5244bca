"""`plabel dedup --what-if`: how many images each threshold would exclude, per class."""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from plabel.dedup.calibrate import Calibration
from plabel.dedup.options import DedupOptions, validate
from plabel.dedup.run import Findings, decide, find, thresholds
from plabel.errors import UnknownRound
from plabel.progress import NULL, Progress

if TYPE_CHECKING:
    from plabel.workspace import Workspace

GRID = (0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998, 0.999)  # similarities tried besides the chosen one


def what_if(ws: Workspace, options: DedupOptions, progress: Progress = NULL) -> list[dict[str, Any]]:
    """For each signal and scope, at the chosen threshold and at each of GRID (the others held at
    their chosen values): images excluded, per predicted class. Nothing is written."""
    o, round = options, options.round
    validate(o)
    if not ws.has_round("predictions", round):
        raise UnknownRound(f"`what_if` counts what each threshold excludes per predicted class, and round {round} "
                           f"has no predictions: run `plabel infer --round {round}` first")
    found = find(ws, round, o, progress)
    chosen = thresholds(found, o)
    names = ws.class_names()
    out = []
    for c in chosen:
        for t in sorted({c.threshold, *GRID}):
            trial = [replace(x, threshold=t) if x is c else x for x in chosen]
            excluded = {r["image_id"] for r in decide(found, trial) if r["excluded"]}
            out.append(_row(c, t, excluded, found, names))
    return out


def _row(c: Calibration, t: float, excluded: set[Any], found: Findings, names: list[str]) -> dict[str, Any]:
    at = found.pool.position
    per_class = Counter(names[found.pool.class_id[at[i]]] for i in excluded if i in at)
    return {"signal": c.signal, "scope": c.scope, "threshold": t, "chosen": t == c.threshold,
            "excluded": len(excluded), "per_class": dict(sorted(per_class.items()))}
