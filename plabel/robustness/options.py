"""What `plabel eval --robustness` measures (RobustnessOptions) and what it found (RobustnessResult)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plabel.errors import UsageError
from plabel.eval_options import EvalOptions
from plabel.fields import cli, comma_items

KINDS = ("corruptions", "flips", "fgsm", "pgd")
DEFAULT_EPSILONS = (1 / 255, 2 / 255, 4 / 255, 8 / 255)


@dataclass(frozen=True, kw_only=True)
class RobustnessOptions(EvalOptions):
    # the command line's --robustness: none means clean accuracy (plain eval)
    kinds: tuple[str, ...] = field(default=("corruptions",), metadata=cli(
        "Robustness instead of clean accuracy: corruptions, flips, fgsm, pgd (comma-separated).", "--robustness",
        type=str | None, default=None, parse=comma_items))
    severities: tuple[int, ...] = field(default=(1, 2, 3, 4, 5), metadata=cli(
        "Corruption severities: 1-5 or a list like 1,3,5.", type=str, default="1-5",
        parse=lambda text: parse_severities(text)))
    corruptions: tuple[str, ...] = field(default=(), metadata=cli(  # default: all twelve
        "Corruptions to apply (default: all twelve).", type=str | None, default=None, parse=comma_items))
    perturbations: tuple[str, ...] = field(default=(), metadata=cli(  # default: all three
        "Perturbation sequences for flips (default: translate, brightness, gaussian_noise).", type=str | None,
        default=None, parse=comma_items))
    epsilons: tuple[float, ...] = field(default=DEFAULT_EPSILONS, metadata=cli(
        "Attack budgets in pixel units.", "--epsilon", type=str, default="1/255,2/255,4/255,8/255",
        parse=lambda text: parse_epsilons(text)))
    steps: int = field(default=10, metadata=cli("PGD steps.", min=1))
    reference: str | None = field(default=None, metadata=cli(  # default: the round-0 teacher
        "Reference checkpoint of mCE and mFR (default: the round-0 teacher)."))
    seed: int = field(default=0, metadata=cli("Random seed."))


@dataclass(kw_only=True)
class RobustnessResult:
    eval_id: str
    checkpoint_id: str
    reference_id: str
    round: int
    n: int
    clean_error: float | None = None
    corruption_errors: dict[str, Any] = field(default_factory=dict)  # corruption -> {severity: error %}
    ce: dict[str, Any] = field(default_factory=dict)
    relative_ce: dict[str, Any] = field(default_factory=dict)
    mce: float | None = None
    relative_mce: float | None = None
    flip_rates: dict[str, Any] = field(default_factory=dict)
    fr: dict[str, Any] = field(default_factory=dict)
    mfr: float | None = None
    fgsm: dict[str, Any] = field(default_factory=dict)  # epsilon -> accuracy %
    pgd: dict[str, Any] = field(default_factory=dict)
    images_per_s: float = 0.0
    seconds: float = 0.0



def parse_severities(text: str) -> tuple[int, ...]:
    """'1-5', '1,3,5' or '3'."""
    try:
        if "-" in text:
            a, b = text.split("-", 1)
            values = tuple(range(int(a), int(b) + 1))
        else:
            values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise UsageError(f"`severities` takes 1-5 or a list like 1,3,5 (got {text!r})") from None
    if not values or any(v not in range(1, 6) for v in values):
        raise UsageError("severities are 1 to 5")
    return values


def parse_epsilons(text: str) -> tuple[float, ...]:
    """'1/255,2/255' or '0.004,0.008'."""
    out = []
    for item in text.split(","):
        num, _, den = item.strip().partition("/")
        try:
            out.append(float(num) / (float(den) if den else 1.0))
        except (ValueError, ZeroDivisionError):
            raise UsageError(f"`epsilons` takes values like 1/255,8/255 (got {item!r})") from None
    if any(not 0 <= e <= 1 for e in out):
        raise UsageError("epsilons are in [0, 1] (pixel units)")
    return tuple(out)


def validate(o: RobustnessOptions) -> None:
    from plabel.robustness import corruptions as C  # scipy: not at the CLI's start-up
    from plabel.robustness import perturbations as P

    bad = [k for k in o.kinds if k not in KINDS]
    if bad or not o.kinds:
        raise UsageError(f"`kinds` takes {', '.join(KINDS)} (got {', '.join(bad) or 'nothing'})")
    for name in o.corruptions:
        if name not in C.REGISTRY:
            raise UsageError(f"unknown corruption {name!r}; corruptions: {', '.join(C.list_corruptions())}")
    for name in o.perturbations:
        if name not in P.REGISTRY:
            raise UsageError(f"unknown perturbation {name!r}; perturbations: {', '.join(P.list_perturbations())}")
    if o.steps < 1:
        raise UsageError("`steps` must be >= 1")
    if o.limit is not None and o.limit < 1:
        raise UsageError("`limit` must be >= 1")
