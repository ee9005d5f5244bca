"""The options and the result of `plabel select`."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from plabel.errors import UsageError, check_finite

BALANCES = ("topk", "copies", "none")
LABELS = ("hard", "soft")


@dataclass(frozen=True)
class SelectOptions:
    round: int
    threshold: float = 0.3
    per_class: int | str = "auto"  # N, or auto: the median of the per-class candidate counts
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


@dataclass
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

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["classes"] = [asdict(c) for c in self.classes]
        return d


def validate(o: SelectOptions) -> None:
    check_finite(o)
    if not 0 <= o.threshold <= 1:
        raise UsageError(f"--threshold must be in [0, 1] (got {o.threshold})")
    if o.balance not in BALANCES:
        raise UsageError(f"--balance must be one of {', '.join(BALANCES)}")
    if o.labels not in LABELS:
        raise UsageError(f"--labels must be one of {', '.join(LABELS)}")
    if not o.temperature > 0:
        raise UsageError("--temperature must be > 0")
    if o.per_class != "auto" and (not isinstance(o.per_class, int) or o.per_class < 0):
        raise UsageError(f"--per-class must be a count >= 0 or auto (got {o.per_class!r})")


def parse_per_class(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"--per-class must be a count >= 0 or auto (got {value!r})") from None
