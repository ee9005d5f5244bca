"""The options, the candidates and the result of `plabel ingest`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from plabel.images import DEFAULT_PIXEL_LIMIT

LABELED_SPLITS = ("train", "val", "test")
FLUSH_ROWS = 8192  # rows per committed part file
CHUNK = 2048  # candidates checked against the known paths at a time
JOB = 128  # files per job sent to a worker process


@dataclass
class Candidate:
    path: str  # as stored (see Workspace.store_path)
    fs_path: str  # as opened
    split: str
    label: str | None = None
    true_label: str | None = None
    reason: str | None = None  # known to be unusable before reading it
    shard: str | None = None  # a tar shard's member: the shard, as stored (plabel.shards)
    member_offset: int | None = None  # and where the member's data starts in it


@dataclass(kw_only=True)
class IngestResult:
    ingest_id: str
    source: str
    seen: int = 0
    skipped: int = 0  # already known from an earlier ingest
    added: int = 0
    aliases: int = 0
    rejected: int = 0
    label_conflicts: int = 0
    classes_added: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    JSON_EXTRA: ClassVar[dict[str, str]] = {"files_per_s": "files_per_s"}

    @property
    def files_per_s(self) -> float:
        return (self.seen - self.skipped) / self.seconds if self.seconds else 0.0



@dataclass(frozen=True, kw_only=True)
class IngestOptions:
    split: str | None = None  # train, val, test (a folder of class folders) or unlabeled; listings may say
    classes: list[str] | None = None  # the class list in id order, for the first labeled ingest
    add_classes: bool = False  # append classes not yet in the workspace instead of failing
    withheld_labels: bool = False  # unlabeled class folders hold withheld ground truth
    workers: int | None = None  # processes hashing and decoding (None: every core)
    pixel_limit: int = DEFAULT_PIXEL_LIMIT  # larger images are rejects (decompression bombs)
    allow_outside: bool = False  # listing paths may leave the listing's folder
    label_key: str | None = None  # tar shards: the extension of the label member (default cls, then txt)
