"""Choosing a duplicate threshold from the data: synthetic positives against nearest neighbours.

Positives are similarities between pool images and synthetic copies of them (re-encoded,
resized, cropped, brightened, shifted: plabel.dedup.synthetic). Negatives are every pool image's
similarity to its nearest other image (or, for contamination, its nearest val/test image).
The threshold is the one that keeps `recall` of the positives; when the negatives above it
exceed `max_fpr`, it rises until they do not, and the recall it then keeps is said.

Negatives are not all distinct pairs: a pool with real duplicates has some among its nearest
neighbours, and they would read as false positives. For pixels, the caller passes each image's
nearest distinct neighbour (`nearest_distinct`: its second nearest where its nearest is as
similar as the copies' tenth quantile) and the expected share of real duplicates left below that
level is taken off (`Rule.share`, `Rule.floor`). Otherwise the share is estimated from the
negatives above the positives' lower quartile (three quarters of the duplicates lie there) and,
spread like the positives, taken off before the false-positive rate is read.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Calibration:
    signal: str  # pixels or embeddings
    scope: str  # unlabeled (within the pool) or held_out (against val/test)
    threshold: float
    target_recall: float
    recall: float  # of the positives at the threshold
    max_fpr: float
    fpr: float  # estimated share of pool images flagged with no real duplicate
    duplicate_share: float  # estimated share of pool images with a real duplicate among the negatives
    positives: int
    negatives: int
    source: str  # calibrated, or given (a threshold passed by the user)
    note: str = ""
    colour_tolerance: float | None = None  # pixels: pairs further apart in chromaticity are never flagged
    brightness_tolerance: float | None = None  # pixels: nor pairs further apart in brightness



def _share_at_or_above(values: np.ndarray, t: float) -> float:
    return float(np.mean(values >= t)) if len(values) else 0.0


def choose(positives: np.ndarray, negatives: np.ndarray, target_recall: float, max_fpr: float,
           share: float, screened: bool = False, lenient: bool = False, floor: float = 0.0,
           min_precision: float = 0.0) -> tuple[float, str]:
    """The calibrated threshold, and a note when the recall target had to give way: the lowest
    threshold at or above the recall target's whose estimated false-positive rate holds the ceiling.

    When `lenient` (in-pool grouping), the ceiling counts as passed up to one standard error of the
    estimate's own sampling noise: with 10% real duplicates in a pool of 2,000, the estimate is a
    difference of two counts whose noise (about 0.9 points) is larger than the pool's half of a 1%
    budget, and holding the estimate itself cost one look-alike pool 17 points of recall. A clean
    pool's estimate has little noise, so its loss stays near the ceiling."""
    pos = np.sort(np.asarray(positives, np.float64))
    neg = np.asarray(negatives, np.float64)
    if len(pos) == 0:
        raise ValueError("no positives to calibrate on")
    k = int(np.floor((1 - target_recall) * len(pos)))  # positives allowed below the threshold
    threshold = float(pos[min(k, len(pos) - 1)])
    candidates = np.unique(np.concatenate([pos[pos >= threshold], neg[neg >= threshold], [threshold]]))
    for t in candidates:  # ascending: the lowest threshold that holds the false-positive rate
        margin = fpr_noise(pos, neg, float(t), screened) if lenient else 0.0
        if estimated_fpr(pos, neg, float(t), share, floor) - margin <= ceiling(pos, float(t), max_fpr, share,
                                                                             min_precision):
            if t > threshold:
                floor_said = f" and the precision floor {min_precision:g}" if min_precision > 0 else ""
                return float(t), (f"the recall target gave way to the false-positive ceiling {max_fpr:g}{floor_said}"
                                  f": recall {recall_at(pos, float(t)):.3f} at {float(t):.4f}")
            return float(t), ""
    top = float(np.nextafter(candidates[-1], np.inf))
    return top, f"no threshold held the false-positive ceiling {max_fpr:g}: nothing flagged"


def ceiling(positives: np.ndarray, t: float, max_fpr: float, share: float, min_precision: float) -> float:
    """The false-positive rate allowed at t: max_fpr, and no more than keeps the estimated
    precision (real duplicates found, share x recall, over all flagged) at `min_precision`. Where
    few images have copies, each false flag weighs more: a pool of look-alikes raises the
    threshold instead of lowering the precision."""
    if min_precision <= 0:
        return max_fpr
    found = share * recall_at(positives, t)
    return min(max_fpr, found * (1 - min_precision) / min_precision)


SHARE_QUANTILE = 0.25  # real duplicates are counted above this quantile of the positives


COPY_QUANTILE = 0.10  # a nearest neighbour above this quantile of the positives is taken for a copy


def nearest_distinct(nearest: np.ndarray, second: np.ndarray, positives: np.ndarray) -> np.ndarray:
    """Each image's similarity to its nearest distinct image: its nearest, unless that one is as
    similar as copies are (at or above the positives' COPY_QUANTILE: a real duplicate, most
    likely), then its second nearest. The tenth, not the quartile: the copies left below it are
    taken off as an expected share, and a pool's own copies sit a little lower than synthetic
    ones (a look-alike pool's by 0.0001 at the quartile), which made the quartile's band read
    real copies as false flags and cost 17 points of recall. A clean pool's false flags are read
    from these: a look-alike behind an image's own copy is counted, which a count of nearest
    neighbours never sees (the copy comes first)."""
    if len(positives) == 0 or len(nearest) == 0:
        return nearest
    level = float(np.quantile(positives, COPY_QUANTILE))
    return np.where(nearest >= level, second, nearest)


def duplicate_share(positives: np.ndarray, negatives: np.ndarray) -> float:
    """Share of negatives that are real duplicates, from those above the positives' lower quartile."""
    if len(negatives) == 0:
        return 0.0
    level = float(np.quantile(positives, SHARE_QUANTILE))
    return min(1.0, _share_at_or_above(negatives, level) / (1 - SHARE_QUANTILE))


def fpr_noise(positives: np.ndarray, negatives: np.ndarray, t: float, screened: bool) -> float:
    """Binomial standard error of estimated_fpr at t: the share of negatives above t, less (unless
    screened) c times the share above the counting level, c = recall(t) / (1 - SHARE_QUANTILE)."""
    n = len(negatives)
    if n == 0:
        return 0.0
    a = _share_at_or_above(negatives, t)
    if screened:
        return float(np.sqrt(a * (1 - a) / n))
    level = float(np.quantile(positives, SHARE_QUANTILE))
    b, c = _share_at_or_above(negatives, level), recall_at(positives, t) / (1 - SHARE_QUANTILE)
    both = min(a, b)  # one of the two sets of negatives holds the other
    variance = a * (1 - a) + c * c * b * (1 - b) - 2 * c * (both - a * b)
    return float(np.sqrt(max(variance, 0.0) / n))


def recall_at(positives: np.ndarray, t: float) -> float:
    return _share_at_or_above(positives, t)


def estimated_fpr(positives: np.ndarray, negatives: np.ndarray, t: float, share: float, floor: float = 0.0) -> float:
    """The share of negatives at or above t, less the real duplicates expected among them: a share
    `share` of the pool, spread like the positives, of which those above the positives' `floor`
    quantile of recall were already taken out of the negatives (nearest_distinct)."""
    return max(0.0, _share_at_or_above(negatives, t) - share * max(0.0, recall_at(positives, t) - floor))


@dataclass(frozen=True)
class Rule:
    """What a threshold must achieve: `target_recall` of the positives, at most `max_fpr` false
    positives; `given` skips the calibration; `screened`: the negatives hold no known duplicates
    (another signal took them out), so none of them is explained away as one; `lenient`: the
    ceiling allows for the estimate's sampling noise (in-pool grouping)."""

    target_recall: float
    max_fpr: float
    given: float | None = None
    screened: bool = False
    lenient: bool = False
    share: float | None = None  # the real-duplicate share, when the caller estimated it
    floor: float = 0.0  # the recall above which real duplicates were taken out of the negatives
    min_precision: float = 0.0  # the estimated precision the threshold must keep (needs `share`)


def calibrate(signal: str, scope: str, positives: np.ndarray, negatives: np.ndarray, rule: Rule) -> Calibration:
    """The threshold for one signal and scope: the given one, else calibrated."""
    pos, neg = np.asarray(positives, np.float64), np.asarray(negatives, np.float64)
    share = rule.share if rule.share is not None else (
        duplicate_share(pos, neg) if len(pos) and not rule.screened else 0.0)
    note = ""
    if rule.given is not None:
        threshold = float(rule.given)
    elif len(pos) == 0:
        threshold, note = float("inf"), "no positives could be made: nothing flagged"
    else:
        threshold, note = choose(pos, neg, rule.target_recall, rule.max_fpr, share, rule.screened, rule.lenient,
                                 rule.floor, rule.min_precision)
    return Calibration(
        signal, scope, threshold, rule.target_recall, recall_at(pos, threshold), rule.max_fpr,
        estimated_fpr(pos, neg, threshold, share, rule.floor) if len(pos) else 0.0, share, len(pos), len(neg),
        "given" if rule.given is not None else "calibrated", note,
    )
