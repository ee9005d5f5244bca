"""Tar shards as an ingest source: which shards a source names, and their image members as candidates.

A source names shards as a folder holding `.tar` files (and nothing else), one `.tar` file, a
`.txt` listing with one shard path per line, or a brace pattern (`pool-{000000..000999}.tar`,
expanded by `braceexpand`, WebDataset's own expander) when no file has that name. Labels follow
WebDataset: a member with the image's key and extension `cls` holds a class index (into the
workspace's class list, or `--classes`), `txt` a class name; `--label-key EXT` names another.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from plabel import shards
from plabel.errors import UsageError
from plabel.ingest.options import LABELED_SPLITS, Candidate, IngestOptions
from plabel.ingest.sources import _escapes, _printable
from plabel.workspace import SPLITS, Workspace


def shard_paths(source: str, allow_outside: bool) -> list[Path] | None:
    """The shards a source names, or None when it names no shards (a folder of images, a listing)."""
    path = Path(os.path.abspath(source))
    if path.is_dir():
        names = [n for n in os.listdir(path) if not n.startswith(".")]  # names only: nothing is followed
        tars = sorted(n for n in names if n.lower().endswith(".tar"))
        return [path / n for n in tars] if tars and len(tars) == len(names) else None
    if path.suffix.lower() == ".tar" and path.exists():
        return [path]
    if path.suffix.lower() == ".txt" and path.is_file():
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
                             "(pass --allow-outside to allow)")
        out.append(Path(os.path.normpath(os.path.join(listing.parent, name))))
    if not out:
        raise UsageError(f"{listing}: lists no shards")
    return _existing(out, str(listing))


def _expanded(pattern: str) -> list[Path]:
    from braceexpand import braceexpand

    try:
        names = list(braceexpand(pattern))
    except Exception as e:  # an unbalanced or malformed pattern
        raise UsageError(f"{pattern}: not a brace pattern ({e})") from None
    return _existing([Path(os.path.abspath(n)) for n in names], pattern)


def _existing(paths: list[Path], source: str) -> list[Path]:
    other = [p for p in paths if p.suffix.lower() != ".tar"]
    if other:  # compressed shards cannot be read by offset; image files belong in a .csv listing
        raise UsageError(f"{source}: names {other[0]}, which is not a .tar shard (list image files in a .csv "
                         "with a path column)")
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise UsageError(f"{source}: {len(missing)} of {len(paths)} shards do not exist (first: {missing[0]})")
    return paths


def shard_source(ws: Workspace, source: str, o: IngestOptions):
    """(candidates, how many, class names they carry) when the source names shards, else None."""
    paths = shard_paths(source, o.allow_outside)
    if paths is None:
        if o.label_key is not None:
            raise UsageError("--label-key applies to tar shards")
        return None
    if o.split not in SPLITS:
        raise UsageError(f"--split is required for shards: one of {', '.join(SPLITS)}")
    classes = o.classes or ws.class_names() or ws.config.get("workspace", {}).get("classes")
    args = (ws, paths, o.split, o.label_key, classes, o.withheld_labels)
    total, found = 0, set()
    for c in shard_candidates(*args):  # every label checked before anything is written
        total += 1
        if c.label or c.true_label:
            found.add(c.label or c.true_label)
    return shard_candidates(*args), total, found


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
        if found.error:
            yield Candidate(f"{stored_shard}#", str(shard), split, reason=found.error)


def _candidate(ws, stored_shard: str, shard: Path, member, split, label, reason, withheld) -> Candidate:
    stored, bad_name = _printable(f"{stored_shard}#{member.name}")
    c = Candidate(stored, shards.locator(str(shard), member), split, reason=reason or bad_name,
                  shard=stored_shard, member_offset=member.offset)
    if withheld:
        c.true_label = label
    else:
        c.label = label
    return c


def _label(shard: Path, group: dict, label_key: str | None, classes: list[str] | None,
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
        if key != "cls" or not text.lstrip("-").isdigit():
            return (text, None) if text else (None, f"label member {member.name} is empty")
        index = int(text)
        if not classes:
            raise UsageError(f"{shard}: .cls members hold class indices; give the class names in index order "
                             "with --classes (or ingest a labeled split first)")
        if not 0 <= index < len(classes):
            return None, f"class index {index} is outside the {len(classes)} classes"
        return classes[index], None
    return None, None
