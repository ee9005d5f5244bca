"""What a source holds: the files of a folder (ImageFolder or any layout) or the rows of a listing."""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plabel import db, storage
from plabel.errors import UsageError
from plabel.ingest.options import CHUNK, LABELED_SPLITS, UNIT_FILES, Candidate
from plabel.queries import query
from plabel.workspace import SPLITS, Workspace

if TYPE_CHECKING:
    from plabel.workspace import Workspace


@dataclass
class Listed:
    """What a source holds: its candidates in a fixed order, how many, the class names they carry,
    and, for tar shards, the same candidates shard by shard (each shard's scanned when its turn comes)."""

    candidates: Iterable[Candidate]
    total: int | None  # None: not counted (shards shared out: no task reads every shard)
    found: set[str]
    shards: list[Iterable[Candidate]] | None = None

    def units(self) -> Iterable[Iterable[Candidate]]:
        """The candidates cut into the units that tasks share out (plabel.ingest.staged): one per
        tar shard (read only when iterated), else blocks of UNIT_FILES files. Either way the cut is
        the same at any world size."""
        return self.shards if self.shards is not None else chunks(self.candidates, UNIT_FILES)

    def unit_count(self) -> int:
        return len(self.shards) if self.shards is not None else -(-(self.total or 0) // UNIT_FILES)


def chunks(items: Iterable[Any], n: int) -> Iterator[list[Any]]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- finding candidates ----------------------------------------------------------------------
def _printable(path: str) -> tuple[str, str | None]:
    """(text to store, reason) for a path whose bytes may not be valid UTF-8."""
    try:
        path.encode("utf-8")
        return path, None
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace"), "file name is not valid UTF-8"


def _walk(root: Path) -> Iterator[str]:
    """Every non-hidden file below root, in a stable order, without following folder links."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield os.path.join(dirpath, name)


def _class_folders(root: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(root) if e.is_dir(follow_symlinks=True) and not e.name.startswith("."))


def _folder_candidates(ws: Workspace, root: Path, split: str, labels_from_folders: bool) -> Iterator[Candidate]:
    prefix = len(str(root)) + 1
    for fs_path in _walk(root):
        stored, reason = _printable(ws.store_path(fs_path))
        label = None
        if labels_from_folders:
            parts = fs_path[prefix:].split(os.sep)
            if len(parts) < 2:
                reason = reason or "not inside a class folder"
            else:
                label = parts[0]
        if split == "unlabeled":
            yield Candidate(stored, fs_path, split, None, label, reason)
        else:
            yield Candidate(stored, fs_path, split, label, None, reason)


def _escapes(path: str, root: Path) -> bool:
    """Whether a listed path leads outside the listing's folder, `..` or symbolic links followed."""
    real_root = os.path.realpath(root)
    resolved = os.path.realpath(os.path.join(root, path))
    return os.path.commonpath([resolved, real_root]) != real_root


def _listing_rows(ws: Workspace, listing: Path) -> Iterator[dict[str, Any]]:
    with ws.connect() as con:
        sql = query("ingest/listing_parquet") if listing.suffix.lower() == ".parquet" else query("ingest/listing")
        rel = db.cursor(con, sql, {"path": storage.literal_path(listing)})
        names = [d[0] for d in rel.description]
        if "path" not in names:
            raise UsageError(f"{listing}: a listing needs a `path` column (found: {', '.join(names)})")
        while True:
            rows = rel.fetchmany(CHUNK)
            if not rows:
                return
            for row in rows:
                yield dict(zip(names, row, strict=True))


def _listing_candidates(ws: Workspace, listing: Path, split: str | None, allow_outside: bool) -> Iterator[Candidate]:
    root = listing.parent
    for n, row in enumerate(_listing_rows(ws, listing), start=2):
        raw = row.get("path")
        if raw is None or str(raw).strip() == "":
            raise UsageError(f"{listing}: row {n} has an empty path")
        raw = str(raw)
        row_split = (row.get("split") or split or "").strip()
        if row_split not in SPLITS:
            raise UsageError(
                f"{listing}: row {n}: split {row_split!r} is not one of {', '.join(SPLITS)} "
                "(give the listing a split column, or `split`)"
            )
        if not allow_outside and _escapes(raw, root):
            raise UsageError(
                f"{listing}: row {n}: path {raw!r} escapes the listing's folder {root} (pass `allow_outside` to allow)"
            )
        label = row.get("label")
        label = str(label).strip() if label not in (None, "") else None
        if row_split in LABELED_SPLITS and label is None:
            raise UsageError(f"{listing}: row {n}: a {row_split} image needs a label")
        fs_path = os.path.normpath(os.path.join(root, raw))
        stored, reason = _printable(ws.store_path(fs_path))
        if row_split == "unlabeled":
            yield Candidate(stored, fs_path, row_split, None, label, reason)
        else:
            yield Candidate(stored, fs_path, row_split, label, None, reason)


def candidates(ws: Workspace, source: Path, split: str | None, withheld_labels: bool, allow_outside: bool) -> Listed:
    """A folder's or a listing's candidates, validated before anything is written."""
    if source.is_dir():
        if split is None:
            raise UsageError(f"`split` is required for a folder: one of {', '.join(SPLITS)}")
        by_folder = split in LABELED_SPLITS or withheld_labels
        total = sum(1 for _ in _walk(source))
        found = set(_class_folders(source)) if by_folder else set()
        return Listed(_folder_candidates(ws, source, split, by_folder), total, found)
    if source.suffix.lower() in (".csv", ".parquet"):
        storage.check_regular(source, "listing")
        total, found, first = 0, set[str](), dict[str, tuple[Any, ...]]()
        for c in _listing_candidates(ws, source, split, allow_outside):  # every row checked first
            total += 1
            label = c.label or c.true_label
            if label:
                found.add(label)
            said = first.setdefault(c.fs_path, (total, c.split, label))
            if said[1:] != (c.split, label):
                raise UsageError(
                    f"{source}: rows {said[0] + 1} and {total + 1} list {c.path!r} with different splits or labels "
                    f"({said[1]}/{said[2]} and {c.split}/{c.label or c.true_label}); keep one"
                )
        return Listed(_listing_candidates(ws, source, split, allow_outside), total, found)
    raise UsageError(f"{source}: expected a folder, or a listing ending in .csv or .parquet")
