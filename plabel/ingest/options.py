"""The options, the candidates and the result of `plabel ingest`."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import ClassVar

from plabel.fields import cli
from plabel.images import DEFAULT_PIXEL_LIMIT
from plabel.workspace import Split

LABELED_SPLITS = ("train", "val", "test")
FLUSH_ROWS = 8192  # rows per committed part file
CHUNK = 2048  # candidates checked against the known paths at a time
JOB = 128  # files per job sent to a worker process
UNIT_FILES = 2048  # files per unit of work when tasks share an ingest out (a tar shard is one unit)


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
    units: int = 0  # shared out over tasks (torchrun, `shards`): units of the source
    staged: int = 0  # of them probed and staged by this task (this process)
    pending: int = 0  # still to stage by some task when this one finished
    committed: bool = True  # False: this task staged its share; the last task (or `plabel commit`) commits
    notes: list[str] = field(default_factory=list)

    JSON_EXTRA: ClassVar[dict[str, str]] = {"files_per_s": "files_per_s"}

    @property
    def files_per_s(self) -> float:
        return (self.seen - self.skipped) / self.seconds if self.seconds else 0.0



def _commas(text: str | None) -> list[str] | None:
    return text.split(",") if text else None


@dataclass(frozen=True, kw_only=True)
class IngestOptions:
    source: str | os.PathLike[str]  # a folder, a listing or tar shards (the command's argument)
    split: Split | None = field(default=None, metadata=cli(
        "train, val, test (one subfolder per class) or unlabeled (any layout)."))  # listings may say
    classes: list[str] | None = field(default=None, metadata=cli(
        "Class list in id order (comma-separated), for the first labeled ingest.", type=str | None,
        parse=_commas))
    add_classes: bool = field(default=False, metadata=cli(
        "Append classes not yet in the workspace instead of failing.", "--add-classes"))
    withheld_labels: bool = field(default=False, metadata=cli(  # ground truth kept for benchmarks
        "With --split unlabeled: class subfolders hold withheld ground truth (for benchmarks).", "--withheld-labels"))
    workers: int | None = field(default=None, metadata=cli(  # None: every core
        "Worker processes for hashing and decoding (default: all cores).", min=1))
    pixel_limit: int = field(default=DEFAULT_PIXEL_LIMIT, metadata=cli(
        "Reject images with more pixels than this (decompression bombs).", min=1))
    allow_outside: bool = field(default=False, metadata=cli(
        "Allow listing paths outside the listing's folder.", "--allow-outside"))
    shards: str | None = field(default=None, metadata=cli(
        "Run as task I of N (I/N, I from 0; an array job's index): probe every N-th unit of the source (a tar "
        "shard, or a block of 2,048 files) into staging; the last task to finish commits (or `plabel commit`). "
        "Under torchrun the ranks share the work out the same way.", metavar="I/N"))
    label_key: str | None = field(default=None, metadata=cli(
        "Tar shards: the extension of the member that holds an image's label (default: cls, then txt)."))
