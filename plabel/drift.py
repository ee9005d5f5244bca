"""`plabel drift` and `plabel rounds`: what changed between rounds, read from the drift views."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from plabel import db
from plabel.errors import UnknownRound, UsageError
from plabel.fields import cli
from plabel.queries import query
from plabel.workspace import Workspace


@dataclass(frozen=True, kw_only=True)
class DriftOptions:
    from_round: int | None = field(default=None, metadata=cli("Earlier round (default: the second-to-last).", "--from"))
    to_round: int | None = field(default=None, metadata=cli("Later round (default: the last).", "--to"))


@dataclass(kw_only=True)
class DriftReport:
    round_a: int
    round_b: int
    images: int
    flip_rate: float
    mean_confidence_change: float
    summary: dict[str, Any] | None  # the drift_summary row when the rounds are consecutive
    transitions: list[dict[str, Any]] = field(default_factory=list)  # every (class a, class b) with its count
    classes: list[str] = field(default_factory=list)
    negative_flips: int = 0
    positive_flips: int = 0

    JSON_EXTRA: ClassVar[dict[str, str]] = {"largest_transitions": "top_transitions", "matrix": "matrix"}

    @property
    def largest_transitions(self) -> list[dict[str, Any]]:
        return [t for t in self.transitions if t["class_a"] != t["class_b"]]

    @property
    def top_transitions(self) -> list[dict[str, Any]]:
        """The 20 largest changes of class (what --json prints; `transitions` holds them all)."""
        return self.largest_transitions[:20]

    def matrix(self) -> list[list[int]]:
        n = len(self.classes)
        m = [[0] * n for _ in range(n)]
        for t in self.transitions:
            m[t["class_a"]][t["class_b"]] = t["images"]
        return m



def drift(ws: Workspace, options: DriftOptions) -> DriftReport:
    """Compare two rounds' predictions (default: the last two rounds that have predictions)."""
    from_round, to_round = options.from_round, options.to_round
    with ws.connect() as con:
        rounds = [r[0] for r in db.rows(con, query("drift/rounds"))]
        if from_round is None and to_round is None:
            if len(rounds) < 2:
                raise UsageError(f"drift needs two rounds of predictions; the workspace has {len(rounds)}")
            from_round, to_round = rounds[-2], rounds[-1]
        elif from_round is None or to_round is None:
            raise UsageError("give both `from_round` and `to_round`, or neither")
        for r in (from_round, to_round):
            if r not in rounds:
                raise UnknownRound(f"round {r} has no predictions (rounds with predictions: {rounds or 'none'})")
        if from_round == to_round:
            raise UsageError("`from_round` and `to_round` must differ")
        a, b = sorted((from_round, to_round))
        pair = {"round_a": a, "round_b": b}
        images, flip_rate, change = db.row(con, query("drift/pair"), pair)
        summary = db.dicts(con, query("drift/summary"), pair)
        transitions = [dict(zip(("class_a", "class_b", "name_a", "name_b", "images"), r, strict=True))
                       for r in db.rows(con, query("drift/transitions"), pair)]
        flips = dict(db.rows(con, query("drift/flips"), pair))
        classes = [name for _, name in db.rows(con, query("workspace/classes"))]
    return DriftReport(round_a=a, round_b=b, images=images, flip_rate=flip_rate or 0.0,
                       mean_confidence_change=change or 0.0, summary=summary[0] if summary else None,
                       transitions=transitions, classes=classes, negative_flips=flips.get("negative", 0),
                       positive_flips=flips.get("positive", 0))


@dataclass(frozen=True, kw_only=True)
class RoundRow:
    """A row of the round_summary view (schemas/views/round_summary.sql says what each holds; a
    test keeps these fields and its columns the same), plus the flip rate towards the next round."""

    round: int
    teacher_id: str | None
    predictions: int
    unlabeled_predictions: int
    selection_id: str | None
    threshold: float | None
    per_class: int | None
    balance: str | None
    labels: str | None
    manifest_hash: str | None
    n_labeled: int | None
    n_pseudo: int | None
    n_pseudo_copies: int | None
    pool_used: float | None
    expected_precision: float | None
    true_precision: float | None
    student_id: str | None
    teacher_val_top1: float | None
    teacher_test_top1: float | None
    teacher_holdout_top1: float | None
    student_val_top1: float | None
    student_test_top1: float | None
    student_holdout_top1: float | None
    teacher_mce: float | None
    teacher_mfr: float | None
    student_mce: float | None
    student_mfr: float | None
    flip_rate_to_next: float | None


def rounds(ws: Workspace) -> list[RoundRow]:
    """The round_summary view, plus each round's flip rate towards the next."""
    with ws.connect() as con:
        rows = db.dicts(con, query("drift/round_summary"))
        flips = dict(db.rows(con, query("drift/flip_rates")))
    return [RoundRow(**r, flip_rate_to_next=flips.get(r["round"])) for r in rows]
