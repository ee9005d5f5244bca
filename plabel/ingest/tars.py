"""Tar shards as an ingest source: which shards a source names, and their image members as candidates.

A source names shards as a folder holding `.tar` files (and nothing else), one `.tar` file, a
`.txt` listing with one shard path per line, or a brace pattern (`pool-{000000..000999}.tar`,
expanded by `braceexpand`, WebDataset's own expander) when no file has that name. Labels follow
WebDataset: a member with the image's key and extension `cls` holds a class index (into the
workspace's class list, or `--classes`), `txt` a class name; `--label-key EXT` names another.
"""
from __future__ import annotations

import os
import re
import string
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plabel import shards, storage
from plabel.errors import UsageError
from plabel.ingest.options import LABELED_SPLITS, Candidate, IngestOptions
from plabel.ingest.sources import Listed, _escapes, _printable
from plabel.workspace import SPLITS, Workspace

if TYPE_CHECKING:
    from plabel.workspace import Workspace

MAX_SHARD_NAMES = 1_000_000  # names one brace pattern may make (WebDataset pools: thousands of shards)
_INDEX = re.compile(r"-?[0-9]+")  # a .cls member's text: an integer in ASCII digits


def shard_paths(source: str, allow_outside: bool) -> list[Path] | None:
    """The shards a source names, or None when it names no shards (a folder of images, a listing)."""
    path = Path(os.path.abspath(source))
    if path.is_dir():
        names = [n for n in os.listdir(path) if not n.startswith(".")]  # names only: nothing is followed
        tars = sorted(n for n in names if n.lower().endswith(".tar"))
        return _existing([path / n for n in tars], str(path)) if tars and len(tars) == len(names) else None
    if path.suffix.lower() == ".tar" and (path.exists() or path.is_symlink()):
        return _existing([path], str(path))
    if path.suffix.lower() == ".txt" and path.exists():
        storage.check_regular(path, "shard listing")
        return _listed(path, allow_outside)
    if not path.exists() and "{" in str(source):
        return _expanded(str(source))
    return None


def _listed(listing: Path, allow_outside: bool) -> list[Path]:
    out = []
    for n, line in enumerate(listing.read_text(encoding="utf-8", errors="surrogateescape").splitlines(), start=1):
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        if not allow_outside and _escapes(name, listing.parent):
            raise UsageError(f"{listing}: line {n}: shard {name!r} is outside the listing's folder "
                             "(pass `allow_outside` to allow)")
        out.append(Path(os.path.normpath(os.path.join(listing.parent, name))))
    if not out:
        raise UsageError(f"{listing}: lists no shards")
    return _existing(out, str(listing))


def _expanded(pattern: str) -> list[Path]:
    from braceexpand import braceexpand

    count = brace_count(pattern)
    if count > MAX_SHARD_NAMES:  # braceexpand builds every name in memory: count first
        raise UsageError(f"{pattern}: names {count:,} shards; at most {MAX_SHARD_NAMES:,} per source (split the "
                         "pattern, or list the shards in a .txt file)")
    names = list(braceexpand(pattern))
    return _existing([Path(os.path.abspath(n)) for n in names], pattern)


# Counting mirrors braceexpand's grammar: a pattern is the product of its literals and {groups};
# a group is an integer or letter range, or a comma sequence whose count is the sum of its parts.
_INT_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)(?:\.\.-?(\d+))?$")
_CHAR_RANGE = re.compile(r"^([A-Za-z])\.\.([A-Za-z])(?:\.\.-?(\d+))?$")


def brace_count(pattern: str) -> int:
    """How many names braceexpand makes of `pattern`, counted without making them; UsageError for
    unbalanced braces (which braceexpand refuses too)."""
    count, start, depth, pos = 1, 0, 0, 0
    while pos < len(pattern):
        ch = pattern[pos]
        if ch == "\\":
            pos += 2
            continue
        if ch == "{":
            start = pos if depth == 0 else start
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                count *= _group_count(pattern[start + 1:pos])
        pos += 1
    if depth != 0:
        raise UsageError(f"{pattern}: not a brace pattern (unbalanced braces)")
    return count


def _group_count(expr: str) -> int:
    if m := _INT_RANGE.match(expr):
        a, b, step = int(m[1]), int(m[2]), int(m[3] or 1) or 1
        return len(range(a, b + 1, step) if a < b else range(a, b - 1, -step))
    if m := _CHAR_RANGE.match(expr):
        letters = string.ascii_uppercase + string.ascii_lowercase  # braceexpand's alphabet
        return len(range(0, abs(letters.index(m[2]) - letters.index(m[1])) + 1, int(m[3] or 1) or 1))
    parts, start, depth = [], 0, 0
    for pos, ch in enumerate(expr):
        if pos and expr[pos - 1] == "\\":
            continue
        depth += (ch == "{") - (ch == "}")
        if ch == "," and depth == 0:
            parts.append(expr[start:pos])
            start = pos + 1
    if depth != 0 or not parts:  # not a sequence: a literal group, `{` + its inside + `}`
        return brace_count(expr)
    return sum(brace_count(p) for p in [*parts, expr[start:]])


def _existing(paths: list[Path], source: str) -> list[Path]:
    other = [p for p in paths if p.suffix.lower() != ".tar"]
    if other:  # compressed shards cannot be read by offset; image files belong in a .csv listing
        raise UsageError(f"{source}: names {other[0]}, which is not a .tar shard (list image files in a .csv "
                         "with a path column)")
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"{source}: {len(missing)} of {len(paths)} shards do not exist (first: {missing[0]})")
    for p in paths:  # a FIFO would hang the scan: opened without blocking, checked with fstat
        storage.check_regular(p, "shard")
    return paths


def shard_source(ws: Workspace, source: str, o: IngestOptions, scan: bool = True) -> Listed | None:
    """The candidates of the shards a source names, validated before anything is written; None
    when it names no shards. Without `scan` no shard is read here (tasks that share the shards
    out read only theirs; each shard's labels are checked when its task reads it)."""
    paths = shard_paths(source, o.allow_outside)
    if paths is None:
        if o.label_key is not None:
            raise UsageError("`label_key` applies to tar shards")
        return None
    if o.split is None:
        raise UsageError(f"`split` is required for shards: one of {', '.join(SPLITS)}")
    classes = o.classes or ws.class_names() or ws.config.get("workspace", {}).get("classes")
    args = (ws, paths, o.split, o.label_key, classes, o.withheld_labels)
    each: list[Iterable[Candidate]] = [shard_candidates(ws, [p], *args[2:]) for p in paths]  # generators
    if not scan:
        return Listed(iter(()), None, set(), each)
    total, found = 0, set[str]()
    for c in shard_candidates(*args):  # every label checked before anything is written
        total += 1
        label = c.label or c.true_label
        if label:
            found.add(label)
    return Listed(shard_candidates(*args), total, found, each)


def shard_candidates(ws: Workspace, paths: list[Path], split: str, label_key: str | None,
                     classes: list[str] | None, withheld: bool) -> Iterator[Candidate]:
    """One candidate per image member (a reject for a shard whose headers break off)."""
    labeled = split in LABELED_SPLITS or withheld
    for shard in paths:
        found = shards.scan(str(shard))
        stored_shard = ws.store_path(shard)
        for _key, group in shards.members_by_key(found):
            label, reason = _label(shard, group, label_key, classes, found.file_size) if labeled else (None, None)
            if labeled and label is None and reason is None:
                reason = f"no label member beside it ({'/'.join([label_key] if label_key else shards.LABEL_KEYS)})"
            for member in group.values():
                if shards.is_image(member.name):
                    yield _candidate(ws, stored_shard, shard, member, split, label, reason, withheld)
        for member in shards.shadowed(found):  # tar keeps the last of one name: the others are rejects
            stored, _ = _printable(f"{stored_shard}#{member.name} (at byte {member.offset})")
            yield Candidate(stored, str(shard), split, reason="a later member of the shard has the same name "
                            "(the last one is used)")
        if found.error:
            yield Candidate(f"{stored_shard}#", str(shard), split, reason=found.error)


def _candidate(ws: Workspace, stored_shard: str, shard: Path, member: Any, split: str, label: str | None,
               reason: str | None, withheld: bool) -> Candidate:
    stored, bad_name = _printable(f"{stored_shard}#{member.name}")
    c = Candidate(stored, shards.locator(str(shard), member), split, reason=reason or bad_name,
                  shard=stored_shard, member_offset=member.offset)
    if withheld:
        c.true_label = label
    else:
        c.label = label
    return c


def _label(shard: Path, group: dict[str, Any], label_key: str | None, classes: list[str] | None,
           file_size: int) -> tuple[str | None, str | None]:
    """(class name, reason it has none) from the image's label member."""
    for key in [label_key] if label_key else shards.LABEL_KEYS:
        member = group.get(key)
        if member is None:
            continue
        try:
            text = shards.read(shards.locator(str(shard), member)).decode("utf-8").strip()
        except (OSError, EOFError, UnicodeDecodeError) as e:
            return None, f"label member {member.name}: unreadable ({e})"
        if key != "cls":
            return (text, None) if text else (None, f"label member {member.name} is empty")
        if not _INDEX.fullmatch(text):  # WebDataset's .cls is an integer in ASCII digits
            raise UsageError(f"{shard}: label member {member.name} holds {ascii(text[:40])}, not a class index "
                             "(.cls members hold integers; a class name goes in a .txt member)")
        index = int(text)
        if not classes:
            raise UsageError(f"{shard}: .cls members hold class indices; give the class names in index order "
                             "with `classes` (or ingest a labeled split first)")
        if not 0 <= index < len(classes):
            return None, f"class index {index} is outside the {len(classes)} classes"
        return classes[index], None
    return None, None
