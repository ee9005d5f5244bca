"""What a selection promises as a whole: the expected precision of its pseudo rows, with a bound,
and whether the pool looks enough like val for the promise to hold.

The manifest's precision is a mixture: each predicted class contributes its pseudo rows (copies
counted: what the student trains on) at the precision of its val predictions above the lowest
confidence it keeps, estimated as (k + 0.5) / (n + 1). The estimate is that weighted mean; its
lower bound is Clopper-Pearson at the effective sample size of a stratified mean (Korn and
Graubard 1998, "Confidence intervals for proportions with small expected number of positive
counts estimated from survey data"):
n_eff = p(1 - p) / var, var = sum of w_c^2 p_c (1 - p_c) / (n_c + 1), each p_c the smoothed
estimate, so that a class whose few val predictions are all right still counts as uncertain, and
one with none (a class on the global threshold) as a coin.

The shift check compares, per class, the confidences of the pool's eligible predictions with
those of its val predictions above the same threshold (two-sample Kolmogorov-Smirnov on the
selection's 0.01 bins, Bonferroni over classes), and the predicted class shares of pool and val
(chi-square). A class shifted beyond chance loses its own guarantee (its val evidence is not a
sample of what it keeps); a class-share shift is reported.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

# a round's val predictions per predicted class: (confidences, right), most confident first
ValEvidence = dict[int, tuple[np.ndarray, np.ndarray]]

if TYPE_CHECKING:
    from plabel.selection.options import SelectOptions, SelectResult

UNPROVEN = ("global", "best")  # sources whose class has no guarantee of its own


@dataclass(frozen=True)
class Share:
    """One class's part of the manifest: its pseudo rows and the lowest confidence it keeps."""

    weight: float
    cutoff: float


def shares(hist: list[tuple[int, int, int]], n: int | None, balance: str,
           thresholds: dict[int, float], boundary: dict[int, int], cutoff: dict[int, float]) -> dict[int, Share]:
    """Per class, its expected pseudo rows and lowest kept confidence, from the eligible histogram
    (class, bin, count) and the balancing walk's results: what will be written, before writing it."""
    totals: dict[int, int] = {}
    for c, _, k in hist:
        totals[c] = totals.get(c, 0) + k
    out = {}
    for c, total in totals.items():
        low = thresholds[c]
        if balance == "none" or n is None:
            out[c] = Share(float(total), low)
        elif balance == "topk":
            b = boundary.get(c, -1)
            out[c] = Share(float(n), max(low, b / 100) if total > n and b >= 0 else low)
        else:
            out[c] = Share(float(n), max(low, cutoff.get(c, low)))
    return out


def evidence_above(val: dict[int, tuple[np.ndarray, np.ndarray]], c: int, cutoff: float) -> tuple[int, int]:
    """(val predictions of class c at or above the cutoff, of them right)."""
    conf, right = val.get(c, (np.zeros(0), np.zeros(0, bool)))
    above = conf >= np.float32(cutoff)
    return int(above.sum()), int(right[above].sum())


def whole(val: dict[int, tuple[np.ndarray, np.ndarray]], parts: dict[int, Share],
          delta: float) -> tuple[float | None, float | None]:
    """(expected precision, its lower bound at 1 - delta) of the pseudo rows of `parts`."""
    from scipy.stats import beta

    live = {c: s for c, s in parts.items() if s.weight > 0}
    total = sum(s.weight for s in live.values())
    if not total:
        return None, None
    estimate, var, support = 0.0, 0.0, 0
    for c, s in live.items():
        n, k = evidence_above(val, c, s.cutoff)
        w, p = s.weight / total, smoothed(k, n)
        estimate += w * p
        var += w * w * p * (1 - p) / (n + 1)
        support += n
    n_eff = min(max(support, 1), estimate * (1 - estimate) / var)
    x = estimate * n_eff
    bound = float(beta.ppf(delta, x, n_eff - x + 1)) if x > 0 else 0.0
    return estimate, bound


def keep_whole(val: ValEvidence, parts: dict[int, Share], target: float, delta: float, unproven: set[int]) -> list[int]:
    """--below-target whole: the unproven classes to drop, least precise first, until the bound of
    the rest reaches the target, or the next one's own expected precision does. A class whose val
    evidence puts it at the target is kept even while the bound falls short: dropping it would
    narrow the bound only by having fewer classes, and a student taught on the pseudo labels of
    one class of nine lost 15 points to its teacher (photo patches, 30 val images per class)."""
    left, dropped = dict(parts), []
    candidates = sorted((c for c in unproven if c in left and left[c].weight > 0),
                        key=lambda c: _precision(val, c, left[c].cutoff))
    for c in candidates:
        _, bound = whole(val, left, delta)
        if bound is None or bound >= target or _precision(val, c, left[c].cutoff) >= target:
            break
        del left[c]
        dropped.append(c)
    return dropped


def smoothed(k: int, n: int) -> float:
    """A class's precision from k right of n val predictions, as (k + 0.5) / (n + 1) (the
    Krichevsky-Trofimov estimate: a Jeffreys prior's pseudo-counts). Not k / n: a class keeps its
    threshold because its val predictions above it looked good, so a small all-right sample
    overstates it (11 of 11 right on val, 0.93 in the pool). Laplace's (k + 1) / (n + 2) shrank
    the many large classes too far (2 points at 40 of 40) and dropped whole selections."""
    return (k + 0.5) / (n + 1)


def _precision(val: ValEvidence, c: int, cutoff: float) -> float:
    n, k = evidence_above(val, c, cutoff)
    return smoothed(k, n)


def shifted_classes(val: ValEvidence, hist: list[tuple[int, int, int]], thresholds: dict[int, float],
                    delta: float) -> dict[int, float]:
    """Per class with evidence on both sides, the KS p-value (Bonferroni-adjusted) of its pool
    confidences against its val confidences above its threshold."""
    from scipy.stats import kstwo

    pool: dict[int, dict[int, int]] = {}
    for c, b, k in hist:
        pool.setdefault(c, {})[b] = k
    out = {}
    tested = [c for c in pool if evidence_above(val, c, thresholds[c])[0] > 0]
    for c in tested:
        conf = val[c][0][val[c][0] >= np.float32(thresholds[c])]
        counts = np.zeros(102)  # bins -1 .. 100, shifted by one
        for b, k in pool[c].items():
            counts[b + 1] += k
        val_counts = np.bincount([_bin(x, thresholds[c]) + 1 for x in conf], minlength=102)
        d = float(np.abs(np.cumsum(counts) / counts.sum() - np.cumsum(val_counts) / len(conf)).max())
        n_eff = max(1, round(len(conf) * counts.sum() / (len(conf) + counts.sum())))
        out[c] = min(1.0, float(kstwo.sf(d, n_eff)) * len(tested))
    return out


def _bin(confidence: float, threshold: float) -> int:
    """The selection's bin of a confidence (binned.sql, eligible.sql): the largest edge i/100 at or
    below it, or -1 when that edge is at or below the threshold."""
    i = min(100, int(math.floor(float(np.float32(confidence)) * 100)))
    while i < 100 and np.float32((i + 1) / 100) <= np.float32(confidence):
        i += 1
    while i > 0 and np.float32(i / 100) > np.float32(confidence):
        i -= 1
    return i if np.float32(i / 100) > np.float32(threshold) else -1


def class_share_p(val: ValEvidence, predicted: dict[int, int]) -> float | None:
    """Chi-square p-value of the predicted class shares of the pool against those of val."""
    from scipy.stats import chi2_contingency

    classes = [c for c in predicted if predicted[c] > 0 or len(val.get(c, ((),))[0])]
    table = np.array([[predicted.get(c, 0) for c in classes],
                      [len(val[c][0]) if c in val else 0 for c in classes]], np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or table[1].sum() == 0 or table[0].sum() == 0:
        return None
    return float(chi2_contingency(table)[1])


def state(r: SelectResult, o: SelectOptions, val: ValEvidence, shift: dict[int, float]) -> None:
    """Fill a SelectResult's statement from what it keeps (copies and lowest confidence per class)
    and each class's own expected precision; add the notes that say whether the target holds."""
    parts = {c.class_id: Share(float(c.copies), c.cutoff) for c in r.classes if c.copies and c.cutoff is not None}
    for c in r.classes:
        c.shift_p = shift.get(c.class_id)
        if c.class_id in parts:
            n, k = evidence_above(val, c.class_id, parts[c.class_id].cutoff)
            c.expected_precision = smoothed(k, n)
    r.expected_precision, r.precision_lower_bound = whole(val, parts, o.delta)
    r.delta = o.delta
    r.class_share_p = class_share_p(val, {c.class_id: c.predicted for c in r.classes})
    shifted = [c.name for c in r.classes if c.shift_p is not None and c.shift_p < o.delta and c.copies]
    if r.expected_precision is not None:
        r.statement = _statement(r, o, shifted)
        if shifted or (o.threshold == "auto" and (r.precision_lower_bound or 0) < o.target_precision):
            r.notes.append(r.statement)
    if r.class_share_p is not None and r.class_share_p < o.delta:
        r.notes.append(f"the pool's predicted class shares differ from val's (chi-square p = {r.class_share_p:.2g}): "
                       "each class's precision was measured on val's mix of true classes")
    if o.threshold == "auto":
        r.guarantee = "shifted" if shifted else (
            "held" if (r.precision_lower_bound or 0) >= o.target_precision else "below")


def _statement(r: SelectResult, o: SelectOptions, shifted: list[str]) -> str:
    said = (f"expected precision of the {r.n_pseudo_copies} pseudo rows: {r.expected_precision:.3f}, "
            f"at least {r.precision_lower_bound:.3f} with confidence {1 - o.delta:g}")
    if shifted:
        return (f"{said}; not guaranteed: the pool's confidences differ from val's beyond chance for "
                f"{', '.join(shifted)} (their val predictions are not a sample of what they keep)")
    if o.threshold != "auto":
        return said
    if (r.precision_lower_bound or 0) >= o.target_precision:
        return f"{said}: target {o.target_precision:g} held"
    return f"{said}: below the target {o.target_precision:g} (see the classes without a guarantee of their own)"
