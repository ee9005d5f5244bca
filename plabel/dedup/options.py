"""What `plabel dedup` takes and gives back (imports neither faiss nor torch: the CLI reads the defaults)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plabel.errors import UsageError, check_fields
from plabel.fields import cli

NEIGHBOURS = 16
EXACT_SEARCH_LIMIT = 200_000  # vectors; above it an IVF index (recall measured in docs/benchmarks.md)
# vectors; above it the IVF lists hold product-quantised codes (m bytes a vector instead of 4 d):
# 20M 256-d vectors are 20 GB flat, 0.8 GB as codes (docs/scaling.md)
COMPRESSED_SEARCH_LIMIT = 20_000_000
SCOPES = ("unlabeled", "held_out")


def _given(what: str) -> str:
    return f"{what}: use this similarity instead of the calibrated threshold."


@dataclass(frozen=True, kw_only=True)
class DedupOptions:
    round: int  # whose pool: its predictions' unlabeled images (or every one, before any model)
    recall: float = field(default=0.98, metadata=cli(
        "Share of synthetic near duplicates a calibrated threshold keeps."))
    # the share of a clean pool dedup may exclude, in-pool groups and contamination together: half
    # each (max_fpr), estimated from every pool image's nearest distinct image
    max_clean_loss: float = field(default=0.01, metadata=cli(
        "Share of a pool without duplicates that dedup may exclude (estimated), groups and contamination together."))
    # pixels: the estimated share of flagged images that are real duplicates, kept by raising the
    # threshold (where copies are few, the clean-loss budget alone would let false flags dominate)
    min_precision: float = field(default=0.95, metadata=cli(
        "Pixels: the estimated share of flagged images that are real duplicates; the threshold rises to keep it "
        "(0: off)."))
    # given instead of calibrated: embeddings within the pool, against val/test, and pixels in both scopes
    similarity: float | None = field(default=None, metadata=cli(_given("Embeddings, within the pool")))
    contamination_similarity: float | None = field(default=None, metadata=cli(_given("Embeddings, against val/test")))
    pixel_similarity: float | None = field(default=None, metadata=cli(_given("Pixel fingerprints, both scopes")))
    pixels: bool = field(default=True, metadata=cli("Compare the ingest fingerprints (model-independent)."))
    # measured: a weak teacher's embeddings add false flags
    embeddings: bool = field(default=False, metadata=cli(
        "Also compare a teacher's embeddings (semantic duplicates; implied by the embedding options below)."))
    embeddings_round: int | None = field(default=None, metadata=cli(
        "Round whose embeddings to compare (default: the first with any).", min=0))
    sample: int = field(default=256, metadata=cli("Pool images made into synthetic positives, per signal.", min=1))
    seed: int = field(default=0, metadata=cli("Seed of the sample and its synthetic copies."))
    neighbours: int = field(default=NEIGHBOURS, metadata=cli("Nearest neighbours searched per image.", min=1))
    exact_limit: int = field(default=EXACT_SEARCH_LIMIT, metadata=cli(
        "Vectors up to which search is exact (IndexFlatIP); above, an IVF index.", min=1))
    dry_run: bool = field(default=False, metadata=cli("Find and count; write nothing."))

    @property
    def uses_embeddings(self) -> bool:
        """Asked for embeddings, or for something only embeddings have."""
        return self.embeddings or self.embeddings_round is not None or self.similarity is not None \
            or self.contamination_similarity is not None

    def given(self, signal: str, scope: str) -> float | None:
        """The threshold the user chose for a signal and scope, if any."""
        if signal == "pixels":
            return self.pixel_similarity
        return self.similarity if scope == "unlabeled" else self.contamination_similarity

    def max_fpr(self, scope: str) -> float:
        """Each scope's ceiling on the estimated share of pool images it flags wrongly: half the
        budget each, a flagged image counted as lost (a false pool pair flags two and excludes
        one: the room this leaves is what keeps precision up where copies are few)."""
        return self.max_clean_loss / len(SCOPES)


def validate(o: DedupOptions) -> None:
    check_fields(o)
    for name in ("recall", "max_clean_loss", "min_precision"):
        if not 0 <= getattr(o, name) <= 1:
            raise UsageError(f"`{name}` must be in [0, 1]")
    for name in ("similarity", "contamination_similarity", "pixel_similarity"):
        value = getattr(o, name)
        if value is not None and not -1 <= value <= 1:
            raise UsageError(f"`{name}` must be in [-1, 1] (a similarity)")
    for name in ("neighbours", "exact_limit", "sample"):
        if getattr(o, name) < 1:
            raise UsageError(f"`{name}` must be >= 1")
    if o.embeddings_round is not None and o.embeddings_round < 0:
        raise UsageError("`embeddings_round` must be >= 0")


@dataclass(kw_only=True)
class DedupResult:
    round: int
    exact: int = 0  # unlabeled images whose bytes are also in val/test/train
    near_groups: int = 0
    near_members: int = 0  # unlabeled images in near-duplicate groups (representatives included)
    contaminated: int = 0  # unlabeled images excluded for val/test (exact or near)
    train_duplicates: int = 0
    labeled_contaminated: int = 0  # labeled train images that are copies of val/test images (reported)
    model_free: bool = False  # the round had no predictions: pixels only, before any model
    excluded: int = 0
    pool: int = 0  # unlabeled images searched
    embeddings_round: int | None = None
    thresholds: list[dict[str, Any]] = field(default_factory=list)  # one Calibration per signal and scope
    removed_by: dict[str, int] = field(default_factory=dict)  # excluded images per rule
    searched: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0

