"""The options and the result of `plabel infer`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from plabel.errors import UsageError, check_fields
from plabel.fields import cli
from plabel.values import auto_or
from plabel.workspace import SPLITS

StoreProbs = Literal["topk", "full"]
STORE_PROBS = get_args(StoreProbs)

# Each image once, in the first split of this order that holds it.


@dataclass(frozen=True, kw_only=True)
class InferOptions:
    round: int
    checkpoint: str | None = field(default=None, metadata=cli(
        "Teacher checkpoint id (default: round R's checkpoint; without --round, its own round)."))
    # the unlabeled pool, plus any of val, test, train
    splits: tuple[str, ...] = field(default=("unlabeled",), metadata=cli(
        "Also predict val, test or train images (repeatable); the unlabeled pool is always predicted.", "--split",
        type=list[str] | None, default=None, parse=lambda given: tuple(given or ()) or ("unlabeled",)))
    topk: int = field(default=5, metadata=cli("Top-k class ids and probabilities kept per image.", min=1))
    store_probs: StoreProbs = field(default="topk", metadata=cli(
        "topk, or full: also the whole probability vector (float16)."))
    embeddings: bool = field(default=False, metadata=cli(
        "Also write L2-normalised penultimate features (for dedup).", "--embeddings"))
    # or "auto": the checkpoint's fitted temperature (plabel calibrate)
    temperature: float | str = field(default=1.0, metadata=cli(
        "Softmax temperature T: probabilities = softmax(logits / T); auto: the checkpoint's, fitted by "
        "`plabel calibrate`.", type=str, default="1.0", parse=lambda v: parse_temperature(v)))
    batch_size: int = field(default=256, metadata=cli(
        "Images per forward pass (also the block a resumed run repeats).", min=1))
    workers: int = field(default=2, metadata=cli("DataLoader worker processes decoding images.", min=0))
    device: str = field(default="auto", metadata=cli("auto, cpu, cuda, cuda:1 ..."))
    amp: bool = field(default=True, metadata=cli("bfloat16 autocast on CUDA.", "--amp/--no-amp"))
    use_ema: bool = True
    overwrite: bool = field(default=False, metadata=cli("Recompute a round that is already complete.",
                                                         "--overwrite"))
    # rows per part file: bounds memory whatever the pool size
    flush_rows: int = field(default=32768, metadata=cli(
        "Rows per Parquet part file (bounds memory; a kill loses at most this many).", "--rows-per-file", min=1))

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
    return auto_or(value, float, "temperature", "> 0 or auto")


def validate(o: InferOptions) -> None:
    check_fields(o)
    if o.round < 0:
        raise UsageError("`round` must be >= 0")
    if o.topk < 1:
        raise UsageError("`topk` must be >= 1")
    if o.temperature != "auto" and (isinstance(o.temperature, str) or not o.temperature > 0):
        raise UsageError(f"`temperature` must be > 0 or auto (got {o.temperature})")
    bad = [s for s in o.splits if s not in SPLITS]
    if bad:
        raise UsageError(f"`split` must name splits among {', '.join(SPLITS)} (got {', '.join(bad)})")
    if o.batch_size < 1 or o.flush_rows < 1:
        raise UsageError("`batch_size` must be >= 1")
