"""The options and the result of `plabel infer`."""
from __future__ import annotations

from dataclasses import dataclass, field

from plabel.errors import UsageError, check_finite
from plabel.values import auto_or
from plabel.workspace import SPLITS

STORE_PROBS = ("topk", "full")

# Each image once, in the first split of this order that holds it.


@dataclass(frozen=True, kw_only=True)
class InferOptions:
    round: int
    checkpoint: str | None = None  # default: round R's checkpoint
    splits: tuple[str, ...] = ("unlabeled",)  # the unlabeled pool, plus any of val, test, train
    topk: int = 5
    store_probs: str = "topk"
    embeddings: bool = False
    temperature: float | str = 1.0  # or "auto": the checkpoint's fitted temperature (plabel calibrate)
    batch_size: int = 256
    workers: int = 2
    device: str = "auto"
    amp: bool = True
    use_ema: bool = True
    overwrite: bool = False
    flush_rows: int = 32768  # rows per part file: bounds memory whatever the pool size


@dataclass(kw_only=True)
class InferResult:
    round: int
    checkpoint_id: str
    predicted: int  # rows written by this call
    resumed: int  # rows found staged by an interrupted call
    rejected: int
    already_complete: bool
    seconds: float
    images_per_s: float
    bytes_on_disk: int
    rows: int  # rows in the committed round
    removed: list[str] = field(default_factory=list)  # tables of the round made from replaced predictions



def parse_temperature(value: str) -> float | str:
    """--temperature: a number > 0, or auto."""
    return auto_or(value, float, "--temperature", "> 0 or auto")


def validate(o: InferOptions) -> None:
    check_finite(o)
    if o.round < 0:
        raise UsageError("--round must be >= 0")
    if o.topk < 1:
        raise UsageError("--topk must be >= 1")
    if o.store_probs not in STORE_PROBS:
        raise UsageError(f"--store-probs must be one of {', '.join(STORE_PROBS)}")
    if o.temperature != "auto" and (isinstance(o.temperature, str) or not o.temperature > 0):
        raise UsageError(f"--temperature must be > 0 or auto (got {o.temperature})")
    bad = [s for s in o.splits if s not in SPLITS]
    if bad:
        raise UsageError(f"--split must name splits among {', '.join(SPLITS)} (got {', '.join(bad)})")
    if o.batch_size < 1 or o.flush_rows < 1:
        raise UsageError("--batch-size must be >= 1")
