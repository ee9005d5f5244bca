"""The options and the result of `plabel select`."""
from __future__ import annotations

from dataclasses import dataclass, field

from plabel.errors import UsageError, check_finite
from plabel.values import DEFAULT_THRESHOLD, auto_or

BALANCES = ("topk", "copies", "none")
BELOW_TARGET = ("whole", "best", "exclude")
DELTA = 0.1  # --threshold auto: the chance that a guarantee it states does not hold
LABELS = ("hard", "soft")


@dataclass(frozen=True, kw_only=True)
class SelectOptions:
    round: int
    threshold: float | str = DEFAULT_THRESHOLD  # or "auto": per class, from val (plabel.selection.auto)
    target_precision: float = 0.9  # --threshold auto: precision the val lower bound must reach
    # --threshold auto, a class without a guarantee of its own: its most precise stretch while the whole
    # selection's bound still reaches the target (whole), always (best), or never (exclude)
    below_target: str = "whole"
    delta: float = DELTA  # --threshold auto: 1 - the confidence of every bound it states
    per_class: int | str = "auto"  # N, or auto: the median class size of the deduplicated pool
    balance: str = "topk"
    labels: str = "hard"
    temperature: float = 1.0
    seed: int = 0
    keep_duplicates: bool = False
    include_labeled: bool = True
    dry_run: bool = False
    overwrite: bool = False


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
    check_finite(o)
    if o.threshold != "auto" and (isinstance(o.threshold, str) or not 0 <= o.threshold <= 1):
        raise UsageError(f"--threshold must be in [0, 1] or auto (got {o.threshold})")
    if not 0 < o.target_precision <= 1:
        raise UsageError(f"--target-precision must be in (0, 1] (got {o.target_precision})")
    if not 0 < o.delta < 1:
        raise UsageError(f"--delta must be in (0, 1) (got {o.delta})")
    if o.below_target not in BELOW_TARGET:
        raise UsageError(f"--below-target must be one of {', '.join(BELOW_TARGET)} (got {o.below_target!r})")
    if o.balance not in BALANCES:
        raise UsageError(f"--balance must be one of {', '.join(BALANCES)}")
    if o.labels not in LABELS:
        raise UsageError(f"--labels must be one of {', '.join(LABELS)}")
    if not o.temperature > 0:
        raise UsageError("--temperature must be > 0")
    if o.per_class != "auto" and (not isinstance(o.per_class, int) or o.per_class < 0):
        raise UsageError(f"--per-class must be a count >= 0 or auto (got {o.per_class!r})")


def parse_threshold(value: str) -> float | str:
    """--threshold: a confidence in [0, 1], or auto."""
    return auto_or(value, float, "--threshold", "in [0, 1] or auto")


def parse_per_class(value: str) -> int | str:
    """--per-class: a count >= 0, or auto."""
    return auto_or(value, int, "--per-class", "a count >= 0 or auto")
