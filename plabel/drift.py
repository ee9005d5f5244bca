"""`plabel drift` and `plabel rounds`: what changed between rounds, read from the drift views."""
from __future__ import annotations

from dataclasses import dataclass, field

from plabel import db
from plabel.errors import UnknownRound, UsageError
from plabel.workspace import Workspace

ROUNDS_SQL = "SELECT DISTINCT round FROM predictions ORDER BY round"
PAIR_SQL = """
SELECT count(*) AS images,
       avg(CASE WHEN a.class_id <> b.class_id THEN 1.0 ELSE 0.0 END) AS flip_rate,
       avg(b.confidence - a.confidence) AS mean_confidence_change
FROM predictions a JOIN predictions b ON b.image_id = a.image_id
WHERE a.round = ? AND b.round = ? AND a.split = 'unlabeled'
"""
SUMMARY_SQL = "SELECT * FROM drift_summary WHERE round_a = ? AND round_b = ?"
TRANSITIONS_SQL = """
SELECT class_a, class_b, name_a, name_b, images FROM class_transitions
WHERE round_a = ? AND round_b = ? AND split = 'unlabeled'
ORDER BY images DESC, class_a, class_b
"""
FLIPS_SQL = """
SELECT kind, count(*) FROM negative_flips WHERE round_a = ? AND round_b = ? GROUP BY kind
"""


@dataclass
class DriftReport:
    round_a: int
    round_b: int
    images: int
    flip_rate: float
    mean_confidence_change: float
    summary: dict | None  # the drift_summary row when the rounds are consecutive
    transitions: list[dict] = field(default_factory=list)  # every (class a, class b) with its count
    classes: list[str] = field(default_factory=list)
    negative_flips: int = 0
    positive_flips: int = 0

    @property
    def largest_transitions(self) -> list[dict]:
        return [t for t in self.transitions if t["class_a"] != t["class_b"]]

    def matrix(self) -> list[list[int]]:
        n = len(self.classes)
        m = [[0] * n for _ in range(n)]
        for t in self.transitions:
            m[t["class_a"]][t["class_b"]] = t["images"]
        return m

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["largest_transitions"] = self.largest_transitions[:20]
        d["matrix"] = self.matrix()
        return d


def drift(ws: Workspace, from_round: int | None = None, to_round: int | None = None) -> DriftReport:
    """Compare two rounds' predictions (default: the last two rounds that have predictions)."""
    con = ws.connect()
    try:
        rounds = [r[0] for r in db.rows(con, ROUNDS_SQL)]
        if from_round is None and to_round is None:
            if len(rounds) < 2:
                raise UsageError(f"drift needs two rounds of predictions; the workspace has {len(rounds)}")
            from_round, to_round = rounds[-2], rounds[-1]
        elif from_round is None or to_round is None:
            raise UsageError("give both --from and --to, or neither")
        for r in (from_round, to_round):
            if r not in rounds:
                raise UnknownRound(f"round {r} has no predictions (rounds with predictions: {rounds or 'none'})")
        if from_round == to_round:
            raise UsageError("--from and --to must differ")
        a, b = sorted((from_round, to_round))
        images, flip_rate, change = db.row(con, PAIR_SQL, [a, b])
        summary = db.dicts(con, SUMMARY_SQL, [a, b])
        transitions = [dict(zip(("class_a", "class_b", "name_a", "name_b", "images"), r, strict=False))
                       for r in db.rows(con, TRANSITIONS_SQL, [a, b])]
        flips = dict(db.rows(con, FLIPS_SQL, [a, b]))
        classes = [r[0] for r in db.rows(con, "SELECT name FROM classes ORDER BY class_id")]
    finally:
        con.close()
    return DriftReport(a, b, images, flip_rate or 0.0, change or 0.0,
                       summary[0] if summary else None, transitions, classes,
                       flips.get("negative", 0), flips.get("positive", 0))


def rounds(ws: Workspace) -> list[dict]:
    """The round_summary view, plus each round's flip rate towards the next."""
    con = ws.connect()
    try:
        rows = db.dicts(con, "SELECT * FROM round_summary")
        flips = {r[0]: r[1] for r in db.rows(con, "SELECT round_a, flip_rate FROM drift_summary")}
    finally:
        con.close()
    for r in rows:
        r["flip_rate_to_next"] = flips.get(r["round"])
    return rows
