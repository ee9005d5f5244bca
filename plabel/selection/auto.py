"""`--threshold auto`: per class, the lowest threshold whose precision on val is shown to reach a target.

For predicted class c and a threshold t, the val images predicted as c with confidence >= t are
a sample of what selection would keep at t; their correct share estimates the precision of the
pseudo labels. Thresholds are tested by their one-sided Clopper-Pearson lower bounds in two
procedures fixed in advance, each at half of delta (`lowest_threshold`): Learn then Test's fixed
sequence from the highest down, stopping at the first that fails, and a grid of four thresholds
by support at a Bonferroni share; the lower of the two is taken. The chance of accepting a
threshold below the target stays at delta however many are tried.

A class whose own val predictions pass no threshold takes the global threshold, chosen the same
way over every class's val predictions, unless its val predictions above it are shown to be right
less often than the target (the upper bound falls short); otherwise it keeps its most precise
stretch (`best`). Such classes have no guarantee of their own: `below_target="whole"` (the
default) keeps them only while the whole selection's bound reaches the target
(plabel.selection.guarantee), `best` always, `exclude` never.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np

from plabel import db, holdout
from plabel.errors import UsageError
from plabel.queries import query
from plabel.selection.guarantee import ValEvidence, smoothed

if TYPE_CHECKING:
    from plabel.selection.options import ClassCount, SelectOptions

CONFIDENCE = 0.9  # of the lower bound


@dataclass(frozen=True)
class ClassThreshold:
    class_id: int
    threshold: float  # infinite: no threshold reaches the target
    val_support: int  # the class's val images predicted as it at or above the threshold
    val_precision: float | None  # their correct share (None: no such image)
    lower_bound: float | None  # its Clopper-Pearson lower bound
    # class (its own val predictions reach the target), global (too few of them: the threshold
    # chosen over all classes, whose bound the pool reached; the fields above stay the class's),
    # best (its most precise stretch), or none
    source: str



def lower_bound(correct: np.ndarray | int, n: np.ndarray | int, confidence: float = CONFIDENCE) -> np.ndarray:
    """One-sided Clopper-Pearson lower bound of a binomial share (0 where nothing is correct)."""
    from scipy.stats import beta

    k, n = np.asarray(correct, np.float64), np.asarray(n, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = beta.ppf(1 - confidence, k, n - k + 1)
    return np.where(k > 0, np.nan_to_num(out, nan=0.0), 0.0)


def upper_bound(correct: np.ndarray | int, n: np.ndarray | int, confidence: float = CONFIDENCE) -> np.ndarray:
    """One-sided Clopper-Pearson upper bound of a binomial share (1 where everything is correct):
    one minus the lower bound of the wrong share."""
    return 1.0 - lower_bound(np.asarray(n) - np.asarray(correct), n, confidence)


def enough(n: int, target: float, confidence: float = CONFIDENCE) -> bool:
    """Whether n val predictions, all right, would put the bound at the target."""
    return n > 0 and float(lower_bound(n, n, confidence)) >= target


@dataclass(frozen=True)
class _Prefixes:
    """One class's val predictions by falling confidence: for each, the threshold at it keeps the
    prefix up to it, with n predictions, k right, and the lower bound of k / n (-1 inside a run of
    ties: a threshold keeps every tie, so only the last of each counts)."""

    conf: np.ndarray
    n: np.ndarray
    k: np.ndarray
    bounds: np.ndarray

    def at(self, i: int) -> tuple[float, int, float, float]:
        """(threshold, support, precision, bound) of the threshold at prefix i."""
        return float(self.conf[i]), int(self.n[i]), float(self.k[i] / self.n[i]), float(self.bounds[i])


def _prefixes(conf: np.ndarray, correct: np.ndarray, confidence: float) -> _Prefixes:
    order = np.argsort(-np.asarray(conf, np.float64), kind="stable")
    c, ok = np.asarray(conf, np.float64)[order], np.asarray(correct, bool)[order]
    n, k = np.arange(1, len(c) + 1), np.cumsum(ok)
    last = np.r_[c[1:] != c[:-1], True]
    return _Prefixes(c, n, k, np.where(last, lower_bound(k, n, confidence), -1.0))


def lowest_threshold(conf: np.ndarray, correct: np.ndarray, target: float,
                     confidence: float = CONFIDENCE) -> tuple[float, int, float, float] | None:
    """(threshold, support, precision, bound) of the lowest threshold that Learn-then-Test accepts
    over the val predictions of one class (their confidences, whether each is right): the lower of
    two procedures, each given half of 1 - confidence, so that the chance of accepting any
    threshold whose precision is below the target stays at 1 - confidence (a union bound):

    - `fixed_sequence`: every val confidence, from the highest down, stopping at the first that
      fails (Angelopoulos et al. 2021, "Learn then Test"): all the power where the most confident
      predictions are right, none below an early unlucky stretch;
    - `grid`: the thresholds at a quarter, a half, three quarters and all of the val predictions,
      each tested on its own at an eighth of the error (Bonferroni): what the first cannot reach
      behind a few early errors (photo patches: 3 wrong among the 50 most confident val
      predictions stopped the walk at 47 of 270, where 144 of the first 150 were right).

    Both orders depend on the support alone, never on which predictions are right, so both are
    fixed in advance.
    """
    if len(conf) == 0:
        return None
    half = 1 - (1 - confidence) / 2
    found = [f for f in (fixed_sequence(conf, correct, target, half), grid(conf, correct, target, half))
             if f is not None]
    return min(found, key=lambda f: (f[0], -f[1])) if found else None


GRID = (0.25, 0.5, 0.75, 1.0)  # shares of the val predictions whose thresholds `grid` tests


def fixed_sequence(conf: np.ndarray, correct: np.ndarray, target: float,
                   confidence: float) -> tuple[float, int, float, float] | None:
    """The lowest threshold of the walk from the highest val confidence down, each a test of
    "precision at it < target" (the binomial test: the Clopper-Pearson bound at `confidence`
    reaches the target), stopping at the first it cannot reject. Where the walk starts depends on
    the support alone: at the first threshold whose support could pass with one wrong prediction
    (46 at 0.9 with half of delta 0.1), so that one early error does not end it; for a class with fewer val
    predictions, at the first that could pass with all right."""
    p = _prefixes(conf, correct, confidence)
    start = _least_support(target, confidence, 1)
    if len(conf) < start:
        start = _least_support(target, confidence, 0)
    testable = np.flatnonzero((p.bounds >= 0) & (p.n >= start))
    accepted = None
    for i in testable:  # highest threshold first
        if p.bounds[i] < target:
            break
        accepted = int(i)
    return None if accepted is None else p.at(accepted)


def grid(conf: np.ndarray, correct: np.ndarray, target: float,
         confidence: float) -> tuple[float, int, float, float] | None:
    """The lowest of the GRID thresholds whose bound, at a Bonferroni share of 1 - confidence,
    reaches the target (a threshold keeps its ties: each grid point is the end of its run)."""
    p = _prefixes(conf, correct, 1 - (1 - confidence) / len(GRID))
    ends = np.flatnonzero(p.bounds >= 0)
    points = {int(ends[np.searchsorted(ends, max(1, round(q * len(conf))) - 1)]) for q in GRID}
    passed = [i for i in points if p.bounds[i] >= target]
    return p.at(max(passed)) if passed else None


def _least_support(target: float, confidence: float, wrong: int) -> int:
    """The fewest val predictions whose bound reaches the target with `wrong` of them wrong."""
    if target >= 1:
        return 1 << 62
    n = wrong + 1
    while float(lower_bound(n - wrong, n, confidence)) < target:
        n += 1
    return n


def most_precise(conf: np.ndarray, correct: np.ndarray,
                 confidence: float = CONFIDENCE) -> tuple[float, int, float, float] | None:
    """(threshold, support, precision, bound) of the threshold with the highest lower bound (the
    lowest such threshold on a tie), over one class's val predictions; None without any right."""
    if len(conf) == 0 or not np.asarray(correct, bool).any():
        return None
    p = _prefixes(conf, correct, confidence)
    return p.at(len(p.bounds) - 1 - int(np.argmax(p.bounds[::-1])))  # the last (lowest threshold) of the highest


def choose(val: dict[int, tuple[np.ndarray, np.ndarray]], classes: list[int], target: float,
           confidence: float = CONFIDENCE, below_target: str = "best") -> list[ClassThreshold]:
    """One threshold per class from the val predictions per predicted class: (confidences, right)."""
    pooled = [np.concatenate([v[i] for v in val.values()]) if val else np.zeros(0) for i in (0, 1)]
    fallback = lowest_threshold(pooled[0], pooled[1], target, confidence)
    out = []
    for c in classes:
        conf, right = val.get(c, (np.zeros(0), np.zeros(0, bool)))
        found: tuple[float, int, float | None, float | None] | None = None
        source = "class"
        if enough(len(conf), target, confidence):
            found = lowest_threshold(conf, right, target, confidence)
        if found is None:
            found, source = _unproven(conf, right, fallback, target, confidence, below_target)
        if found is None:
            out.append(ClassThreshold(c, math.inf, 0, None, None, "none"))
        else:
            out.append(ClassThreshold(c, found[0], found[1], found[2], found[3], source))
    return out


def _unproven(conf: np.ndarray, right: np.ndarray, fallback: tuple[Any, ...] | None, target: float, confidence: float,
              below_target: str) -> tuple[tuple[Any, ...] | None, str]:
    """A class without a threshold of its own: the global threshold (where it fits the class) or
    its most precise stretch (under `best`), whichever its own val evidence puts at the target,
    the lower of the two if both; else the one its evidence puts higher. The global threshold
    alone would cost a class whose own stretch is long and right: 16 of 16 right above 0.62 on
    one photo class, against 2 of 2 above the global 0.87."""
    candidates = []
    if fallback is not None and _global_fits(conf, right, fallback, target, confidence):
        candidates.append((_own_above(conf, right, fallback[0], confidence), "global"))
    stretch = most_precise(conf, right, confidence) if below_target == "best" else None
    if stretch is not None:
        candidates.append((stretch, "best"))
    if not candidates:
        return None, "none"
    at_target = [c for c in candidates if _smoothed(c[0]) >= target]
    if at_target:
        return min(at_target, key=lambda c: c[0][0])
    return max(candidates, key=lambda c: _smoothed(c[0]))


def _smoothed(found: tuple[Any, ...]) -> float:
    """The whole selection's estimate (guarantee.smoothed) of a (threshold, support, precision, bound)."""
    _, n, precision, _ = found
    return smoothed(round((precision or 0.0) * n), n)


def _own_above(conf: np.ndarray, right: np.ndarray, threshold: float,
               confidence: float) -> tuple[float, int, float | None, float | None]:
    """(threshold, support, precision, bound) of one class's own val predictions at a threshold
    chosen over all classes: what it says of this class, not of the pool (none above: unknown)."""
    above = conf >= threshold
    n, k = int(above.sum()), int(right[above].sum())
    return threshold, n, (k / n if n else None), (float(lower_bound(k, n, confidence)) if n else None)


def _global_fits(conf: np.ndarray, right: np.ndarray, fallback: tuple[float, int, float, float],
                 target: float, confidence: float) -> bool:
    """Whether a class without a bound of its own may take the global threshold: its val
    predictions above it are not shown to fall short (none, or an upper bound >= the target).
    A class whose few confident predictions could not bound the precision takes it; a class
    shown to be wrong more often than the target allows keeps nothing."""
    above = conf >= fallback[0]
    return not above.any() or float(upper_bound(int(right[above].sum()), int(above.sum()), confidence)) >= target


def prepare_evidence(con: duckdb.DuckDBPyConnection, round: int) -> None:
    """The `val_rows` macro for round R: its predictions on the val split and on the labeled train
    images its teacher was trained without (`train --holdout`, plabel.holdout)."""
    teacher = db.scalar(con, query("selection/teacher"), {"round": round})
    holdout.prepare(con, holdout.share_of(con, teacher))
    db.execute(con, query("selection/val_rows"))  # after held_out: a macro is bound when defined


def val_evidence(con: duckdb.DuckDBPyConnection, o: SelectOptions, required: bool) -> ValEvidence:
    """Round R's val predictions per predicted class: (confidences, right), most confident first.
    --threshold auto needs them; a fixed threshold uses them, where they exist, for its statement."""
    prepare_evidence(con, o.round)
    rows = db.rows(con, query("selection/val_predictions"), {"round": o.round})
    if not rows and required:
        raise UsageError(
            f"`threshold` auto estimates precision on labeled val images predicted by round {o.round}'s teacher, "
            f"and there are none: `plabel infer --round {o.round} --split val` predicts them (no val split? "
            f"`plabel ingest DIR --split val` adds one, or train the teacher with `holdout` 0.2 and predict the "
            f"held-out images with `--split train`)"
        )
    val: dict[int, tuple[list[Any], list[Any]]] = {}
    for class_id, confidence, right in rows:
        val.setdefault(class_id, ([], []))
        val[class_id][0].append(confidence)
        val[class_id][1].append(right)
    return {c: (np.array(v[0], np.float64), np.array(v[1], bool)) for c, v in val.items()}


def class_thresholds(o: SelectOptions, class_ids: list[int], val: ValEvidence) -> dict[int, ClassThreshold]:
    """Every class's threshold: the one given, or --threshold auto's from round R's val predictions."""
    if o.threshold != "auto":
        return {c: ClassThreshold(c, float(o.threshold), 0, None, None, "given") for c in class_ids}
    below = "best" if o.below_target == "whole" else o.below_target  # whole: kept, then checked as a whole
    return {t.class_id: t for t in choose(val, class_ids, o.target_precision, 1 - o.delta, below)}


def threshold_notes(o: SelectOptions, classes: list[ClassCount]) -> list[str]:
    """What --threshold auto could not do from a class's own val predictions."""
    if o.threshold != "auto":
        return []
    fallback = [f"{c.name} ({_own(c)})" for c in classes if c.threshold_source == "global"]
    none = [c.name for c in classes if c.threshold_source == "none"]
    dropped = [f"{c.name} ({_own(c)})" for c in classes if c.threshold_source == "dropped"]
    best = [f"{c.name} (estimated {c.val_precision:.2f}, lower bound {c.val_lower_bound:.2f})"
            for c in classes if c.threshold_source == "best"]
    notes = []
    if best:
        notes.append(f"below precision {o.target_precision:g} on val at every threshold, the global one included: "
                     f"{', '.join(best)} keep their most precise stretch (--below-target exclude drops them)")
    if fallback:
        notes.append(f"too few val predictions to bound the precision of {', '.join(fallback)} on their own: "
                     f"they take the threshold chosen over all classes (the bound is the pool's, not theirs)")
    if dropped:
        notes.append(f"{', '.join(dropped)}: without a guarantee of their own and below {o.target_precision:g} on "
                     f"val, dropped while the whole selection's bound fell short of it; each would have added N "
                     f"pseudo labels at about its val precision (--below-target best keeps them)")
    if none:
        notes.append(f"{', '.join(none)}: below precision {o.target_precision:g} on val at every threshold, the "
                     f"global one included (its upper bound falls short), or without a right val prediction: "
                     f"nothing is selected for them")
    return notes


def _own(c: ClassCount) -> str:
    """A global class's own val evidence above its threshold, in words."""
    if not c.val_support:
        return "no val prediction above it"
    return f"{c.val_support} val predictions above it, {c.val_precision:.2f} right"
