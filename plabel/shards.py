"""Tar shards (the WebDataset layout) as an image source: members found by their headers, read by offset.

A shard member is stored as an image row whose `path` is the shard's path, `#`, and the member's
name (`pool-000123.tar#000123/42.jpg`), with the shard in `shard` and the byte offset of its data
in `member_offset`; `bytes` is its size. Readers never scan or extract the tar: they open the
shard once per process and read `bytes` bytes at `member_offset`.

Inside plabel a member travels as a locator string, `tar:OFFSET:SIZE:/absolute/shard.tar`. Every
path plabel reads is absolute, so a locator can never be mistaken for a file's path.
"""
from __future__ import annotations

import os
import tarfile
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "webp", "ppm", "pgm", "pbm", "bmp", "gif", "tif", "tiff"})
LABEL_KEYS = ("cls", "txt")  # WebDataset's class-index member, then a text label
LOCATOR = "tar:"
BLOCK = 512  # tar's block: headers and data are padded to it; two zero blocks end the archive
OPEN_SHARDS = 128  # file descriptors kept open per process


@dataclass(frozen=True)
class Member:
    name: str  # its path inside the tar
    offset: int  # of its data, in bytes from the start of the shard
    size: int


@dataclass
class Scan:
    members: list[Member]
    file_size: int
    error: str | None = None  # why the headers stopped before the tar's end marker


def split_name(name: str) -> tuple[str, str]:
    """WebDataset's (key, extension): the folder and the file name up to its first dot; the rest,
    lower-cased. `000123/42.seg.png` is key `000123/42`, extension `seg.png`."""
    folder, _, base = name.rpartition("/")
    stem, dot, ext = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), (ext.lower() if dot else "")


def is_image(name: str) -> bool:
    return split_name(name)[1].rpartition(".")[2] in IMAGE_EXTENSIONS


def scan(shard: str) -> Scan:
    """The regular-file members of a shard from their headers (the data is skipped, not read)."""
    members: list[Member] = []
    size = os.path.getsize(shard)
    try:
        with tarfile.open(shard, "r:") as tar:
            while (info := tar.next()) is not None:
                if info.isfile():
                    members.append(Member(info.name, info.offset_data, info.size))
    except (tarfile.TarError, EOFError, OSError) as e:
        return Scan(members, size, f"corrupt or truncated tar after {len(members)} members: {e}")
    end = max((-(-(m.offset + m.size) // BLOCK) * BLOCK for m in members), default=0)
    if size < end + 2 * BLOCK:  # tarfile stops quietly where a cut falls between members
        return Scan(members, size, f"truncated tar: no end-of-archive marker after {len(members)} members")
    return Scan(members, size)


def locator(shard: str, member: Member) -> str:
    return source_of(os.path.abspath(shard), member.offset, member.size)


def is_locator(source: str) -> bool:
    return source.startswith(LOCATOR)


def exists(source: str) -> bool:
    """Whether a reader's file is there: the file, or a member's shard."""
    return os.path.isfile(parse(source)[0] if is_locator(source) else source)


def parse(source: str) -> tuple[str, int, int]:
    """(shard, offset, size) of a locator."""
    offset, size, shard = source[len(LOCATOR):].split(":", 2)
    return shard, int(offset), int(size)


def source_of(shard: str, offset: int, size: int) -> str:
    """The locator of a member of a shard (an absolute path)."""
    return f"{LOCATOR}{int(offset)}:{int(size)}:{shard}"


# shard -> descriptor, least recently used first. A forked DataLoader worker inherits them:
# os.pread keeps no file position, so processes sharing a descriptor do not disturb each other.
_open: OrderedDict[str, int] = OrderedDict()


def _descriptor(shard: str) -> int:
    fd = _open.pop(shard, None)
    if fd is None:
        fd = os.open(shard, os.O_RDONLY)
        while len(_open) >= OPEN_SHARDS:
            os.close(_open.popitem(last=False)[1])
    _open[shard] = fd
    return fd


def read(source: str) -> bytes:
    """A member's bytes by offset; OSError as for a file, EOFError when the shard ends early."""
    shard, offset, size = parse(source)
    fd = _descriptor(shard)
    if offset < 0 or size < 0 or offset + size > os.fstat(fd).st_size:  # a crafted row: never a huge read
        raise EOFError(f"the member ({size} bytes at {offset}) lies outside the shard")
    data = os.pread(fd, size, offset)
    if len(data) < size:
        raise EOFError(f"shard ends {size - len(data)} bytes before the member's end")
    return data


def members_by_key(found: Scan) -> Iterator[tuple[str, dict[str, Member]]]:
    """Members grouped by WebDataset key, in tar order of each key's first member. Of members with
    one name, the last is used (as tar extracts them); `shadowed` lists the others."""
    groups: dict[str, dict[str, Member]] = {}
    for m in found.members:
        key, ext = split_name(m.name)
        groups.setdefault(key, {})[ext] = m
    yield from groups.items()


def shadowed(found: Scan) -> list[Member]:
    """Members that a later member of the same name replaces."""
    last = {m.name: m for m in found.members}
    return [m for m in found.members if last[m.name] is not m]
