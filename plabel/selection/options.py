"""The options and the result of `plabel select`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from plabel.errors import UsageError, check_fields
from plabel.fields import cli
from plabel.values import DEFAULT_THRESHOLD, auto_or

Balance = Literal["topk", "copies", "none"]
BelowTarget = Literal["whole", "best", "exclude"]
Labels = Literal["hard", "soft"]
BALANCES, BELOW_TARGET, LABELS = get_args(Balance), get_args(BelowTarget), get_args(Labels)
DELTA = 0.1  # --threshold auto: the chance that a guarantee it states does not hold


@dataclass(frozen=True, kw_only=True)
class SelectOptions:
    round: int
    # or "auto": per class, from val (plabel.selection.auto)
    threshold: float | str = field(default=DEFAULT_THRESHOLD, metadata=cli(
        "Keep predictions with confidence >= threshold (paper: 0.3), or auto: per class, the lowest threshold "
        "whose precision on val reaches --target-precision.", type=str, default=str(DEFAULT_THRESHOLD),
        parse=lambda v: parse_threshold(v)))
    target_precision: float = field(default=0.9, metadata=cli(
        "--threshold auto: the precision the val estimate's lower bound must reach."))
    below_target: BelowTarget = field(default="whole", metadata=cli(
        "--threshold auto, a class without a guarantee of its own: whole (its most precise stretch while the "
        "whole selection's bound still reaches the target), best (always) or exclude (never)."))
    delta: float = field(default=DELTA, metadata=cli(
        "--threshold auto: the chance that a bound it states does not hold (bounds at 1 - delta)."))
    per_class: int | str = field(default="auto", metadata=cli(
        "Images per class N, or auto (the median class size of the deduplicated pool, before the threshold).",
        type=str, parse=lambda v: parse_per_class(v)))
    balance: Balance = field(default="topk", metadata=cli("topk (paper), copies (official code) or none."))
    labels: Labels = field(default="hard", metadata=cli("hard (argmax) or soft (the teacher's distribution)."))
    temperature: float = field(default=1.0, metadata=cli("Soft labels: p ** (1/T), renormalised."))
    seed: int = field(default=0, metadata=cli("Random seed."))
    keep_duplicates: bool = field(default=False, metadata=cli(
        "Keep every member of near-duplicate groups (never val/test contamination).", "--keep-duplicates"))
    include_labeled: bool = field(default=True, metadata=cli("Include the labeled train images.",
                                                              "--labeled/--no-labeled"))
    dry_run: bool = field(default=False, metadata=cli("Show the selection and the what-if; write nothing.",
                                                       "--dry-run"))
    overwrite: bool = field(default=False, metadata=cli("Replace a selection made with other parameters.",
                                                         "--overwrite"))

@dataclass
class ClassCount:
    class_id: int
    name: str
    predicted: int
    above_threshold: int
    after_dedup: int
    selected: int = 0
    copies: int = 0
    cutoff: float | None = None
    threshold: float = 0.0  # the class's confidence threshold (infinite: nothing kept)
    threshold_source: str = "given"  # given, or --threshold auto's: class, global, none
    val_support: int | None = None  # auto: val images predicted as the class at or above it
    val_precision: float | None = None  # auto: their correct share
    val_lower_bound: float | None = None  # auto: its Clopper-Pearson lower bound
    expected_precision: float | None = None  # val predictions' correct share above the lowest confidence kept
    shift_p: float | None = None  # KS p-value (Bonferroni) of pool against val confidences above the threshold


@dataclass(kw_only=True)
class SelectResult:
    round: int
    selection_id: str
    checkpoint_id: str
    per_class: int | None
    per_class_auto: bool
    n_labeled: int
    n_pseudo: int
    n_pseudo_copies: int
    manifest_path: str | None
    manifest_hash: str | None
    dry_run: bool
    already_selected: bool
    classes: list[ClassCount] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # the whole selection's statement (plabel.selection.guarantee), where val predictions exist
    expected_precision: float | None = None  # of the pseudo rows, copies counted
    precision_lower_bound: float | None = None  # at confidence 1 - delta
    delta: float | None = None
    guarantee: str | None = None  # auto: held, below (the bound misses the target) or shifted
    class_share_p: float | None = None  # chi-square p-value, predicted class shares of pool against val
    statement: str | None = None  # the above in words



def validate(o: SelectOptions) -> None:
    check_fields(o)
    if o.threshold != "auto" and (isinstance(o.threshold, str) or not 0 <= o.threshold <= 1):
        raise UsageError(f"`threshold` must be in [0, 1] or auto (got {o.threshold})")
    if not 0 < o.target_precision <= 1:
        raise UsageError(f"`target_precision` must be in (0, 1] (got {o.target_precision})")
    if not 0 < o.delta < 1:
        raise UsageError(f"`delta` must be in (0, 1) (got {o.delta})")
    if not o.temperature > 0:
        raise UsageError("`temperature` must be > 0")
    if o.per_class != "auto" and (not isinstance(o.per_class, int) or o.per_class < 0):
        raise UsageError(f"`per_class` must be a count >= 0 or auto (got {o.per_class!r})")


def parse_threshold(value: str) -> float | str:
    """--threshold: a confidence in [0, 1], or auto."""
    return auto_or(value, float, "threshold", "in [0, 1] or auto")


def parse_per_class(value: str) -> int | str:
    """--per-class: a count >= 0, or auto."""
    return auto_or(value, int, "per_class", "a count >= 0 or auto")
