"""`plabel export`: a round's manifest in the forms other trainers read.

- `csv` / `parquet`: one row per manifest row, with the absolute path (or, for a tar shard's member,
  the shard, the offset and the size), the target id and name, soft targets, copies and weight.
- `imagefolder`: `OUT/<class>/<image id>.<ext>`, a symbolic link to each file (a shard member's bytes
  are written out); a row with c copies appears c times (`<id>_1.<ext>`, ...), so a plain
  ImageFolder sampler sees the balancing.
- `wds`: WebDataset tar shards `OUT/shard-000000.tar`, ... whose samples hold the image, `cls` (the
  target id) and `json` (image id, target name, soft targets, weight, origin, confidence); a row
  with c copies is c samples.

Everything is written into a private folder beside OUT and renamed into place at the end: a crash
leaves no OUT, or the old one. OUT is never the workspace, inside it, or a folder that holds it, and
`overwrite` replaces only an earlier export of plabel's (`is_export`: a folder with the marker file
`.plabel-export.json`, a Parquet file with the `plabel.export` key, a CSV file with the export's
header), never another file or folder.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq

from plabel import db, shards, storage
from plabel.errors import UsageError, check_fields
from plabel.fields import cli
from plabel.images import read_bytes
from plabel.manifest import read_manifest
from plabel.queries import query
from plabel.workspace import Workspace

Format = Literal["csv", "parquet", "imagefolder", "wds"]
FORMATS = get_args(Format)
MARKER = ".plabel-export.json"  # in a folder export: what it is, so --overwrite recognises it
METADATA_KEY = b"plabel.export"  # in a Parquet export's key-value metadata, likewise
NAME_BYTES = 200  # a class folder's name at most (file systems allow 255 bytes; room for a suffix)
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tif", "PPM": "ppm"}


@dataclass(frozen=True, kw_only=True)
class ExportOptions:
    round: int
    out: str  # a file (csv, parquet) or a new folder (the command's argument)
    format: Format = field(default="parquet", metadata=cli(f"One of {', '.join(FORMATS)}."))
    shard_size: int = field(default=10_000, metadata=cli("wds: samples per tar shard.", min=1))
    overwrite: bool = field(default=False, metadata=cli("Replace OUT if it exists.", "--overwrite"))


@dataclass(kw_only=True)
class ExportResult:
    round: int
    format: str
    out: str
    rows: int  # manifest rows
    samples: int  # rows times their copies (imagefolder, wds); rows otherwise
    files: int  # files written



@dataclass
class _Row:
    image_id: str
    source: str  # what a reader opens (Workspace.sources)
    target: int
    target_name: str
    copies: int
    extension: str
    record: dict[str, Any]  # the row as the csv/parquet/json forms give it


def export(ws: Workspace, o: ExportOptions) -> ExportResult:
    """Write round R's manifest to `o.out` in `o.format`."""
    check_fields(o)
    if o.shard_size < 1:
        raise UsageError(f"`shard_size` must be at least 1 (got {o.shard_size})")
    file = ws.manifest_path(o.round)
    if not file.is_file():
        raise UsageError(f"round {o.round} has no manifest: run `plabel select --round {o.round}` first")
    out = storage.outside(ws.root, o.out, "OUT")
    if out.exists() or out.is_symlink():
        if not o.overwrite:
            raise UsageError(f"{out} exists (pass `overwrite` to replace an earlier export)")
        if not is_export(out):
            raise UsageError(f"{out} exists and is not an export of plabel's: `overwrite` replaces only those "
                             "(remove it yourself, or choose another OUT)")
    rows = _rows(ws, file)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        samples, files = WRITERS[o.format](rows, tmp, o)
        _publish(tmp, out)
    finally:
        _remove(tmp)
    return ExportResult(round=o.round, format=o.format, out=str(out), rows=len(rows), samples=samples, files=files)


def _rows(ws: Workspace, file: Path) -> list[_Row]:
    names = ws.class_names()
    m = read_manifest(ws, file, len(names))
    t = pq.read_table(file)
    with ws.connect() as con:
        ids = pa.table({"image_id": pa.array(m.image_ids.tolist(), pa.string())})
        with db.registered(con, "wanted", ids):
            formats = dict(db.rows(con, query("export/formats")))
    col = {c: t.column(c).to_pylist() if c in t.column_names else [None] * t.num_rows
           for c in ("path", "origin", "confidence", "target_index", "target_prob")}
    out = []
    for k, image_id in enumerate(m.image_ids.tolist()):
        source, target = m.files[k].decode(), int(m.target[k])
        shard, offset, size = shards.parse(source) if shards.is_locator(source) else (None, None, None)
        record = {"image_id": image_id, "path": source if shard is None else col["path"][k], "shard": shard,
                  "member_offset": offset, "bytes": size, "origin": col["origin"][k] or "labeled",
                  "target": target, "target_name": names[target], "target_index": col["target_index"][k],
                  "target_prob": col["target_prob"][k], "copies": int(m.copies[k]),
                  "weight": float(m.weight[k]), "confidence": col["confidence"][k]}
        ext = EXTENSIONS.get(formats.get(image_id, ""), "img")
        out.append(_Row(image_id, source, target, names[target], int(m.copies[k]), ext, record))
    return out


def _table(rows: list[_Row]) -> pa.Table:
    return pa.Table.from_pylist([r.record for r in rows], schema=SCHEMA)


SCHEMA = pa.schema([
    ("image_id", pa.string()), ("path", pa.string()), ("shard", pa.string()), ("member_offset", pa.int64()),
    ("bytes", pa.int64()), ("origin", pa.string()), ("target", pa.int64()), ("target_name", pa.string()),
    ("target_index", pa.list_(pa.int32())), ("target_prob", pa.list_(pa.float32())), ("copies", pa.int64()),
    ("weight", pa.float32()), ("confidence", pa.float32()),
])


def _marker(o: ExportOptions) -> bytes:
    return json.dumps({"plabel_export": 1, "format": o.format, "round": o.round}).encode()


def is_export(out: Path) -> bool:
    """Whether OUT is an earlier export of plabel's (never a link: its target could be anything)."""
    if out.is_symlink():
        return False
    if out.is_dir():
        return (out / MARKER).is_file() and not (out / MARKER).is_symlink()
    if not out.is_file():
        return False
    try:
        with open(out, "rb") as fh:
            first = fh.readline(len(_csv_header()) + 2)  # a bounded read, whatever the file is
        if out.suffix.lower() == ".parquet" or first.startswith(b"PAR1"):
            return METADATA_KEY in (pq.read_schema(out).metadata or {})
        return first.rstrip(b"\r\n") == _csv_header()
    except (OSError, pa.ArrowException):
        return False


def _csv_header() -> bytes:
    return ",".join(f'"{n}"' for n in SCHEMA.names).encode()


def _parquet(rows: list[_Row], tmp: Path, o: ExportOptions) -> tuple[int, int]:
    table = _table(rows)
    pq.write_table(table.replace_schema_metadata({METADATA_KEY: _marker(o)}), tmp)
    return len(rows), 1


def _csv(rows: list[_Row], tmp: Path, o: ExportOptions) -> tuple[int, int]:
    import pyarrow.csv as pcsv

    t = _table(rows)
    for name in ("target_index", "target_prob"):  # CSV has no lists: JSON text, as DuckDB writes them
        i = t.column_names.index(name)
        t = t.set_column(i, name, pa.array([None if v is None else json.dumps(v) for v in t.column(name).to_pylist()],
                                           pa.string()))
    pcsv.write_csv(t, tmp)
    return len(rows), 1


def folder_name(name: str) -> str:
    """A class name as one safe path component: `/`, `\\`, NUL and other specials percent-encoded,
    no leading dot (`.`, `..`, hidden folders), and at most NAME_BYTES bytes: a longer name is cut
    and ends in `~` and 12 hex digits of its hash, so two long names never share a folder."""
    safe = quote(name, safe=" -_,+=@()[]{}!~'&;")
    safe = "%2E" + safe[1:] if safe.startswith(".") else safe
    if len(safe.encode()) <= NAME_BYTES:
        return safe
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return safe[: NAME_BYTES - 13] + "~" + digest  # quote() leaves ASCII only: one byte a character


def _imagefolder(rows: list[_Row], tmp: Path, o: ExportOptions) -> tuple[int, int]:
    files = 0
    tmp.mkdir()
    (tmp / MARKER).write_bytes(_marker(o))
    for r in rows:
        folder = tmp / folder_name(r.target_name)
        folder.mkdir(exist_ok=True)
        for k in range(r.copies):
            dest = folder / (f"{r.image_id}.{r.extension}" if k == 0 else f"{r.image_id}_{k}.{r.extension}")
            if shards.is_locator(r.source):
                dest.write_bytes(read_bytes(r.source))
            else:
                os.symlink(r.source, dest)
            files += 1
    return files, files


def _wds(rows: list[_Row], tmp: Path, o: ExportOptions) -> tuple[int, int]:
    tmp.mkdir()
    (tmp / MARKER).write_bytes(_marker(o))
    samples = list(_samples(rows))
    for shard, start in enumerate(range(0, len(samples), o.shard_size)):
        with tarfile.open(tmp / f"shard-{shard:06d}.tar", "w", format=tarfile.USTAR_FORMAT) as tar:
            for key, r in samples[start:start + o.shard_size]:
                meta = {k: r.record[k] for k in ("image_id", "target", "target_name", "target_index", "target_prob",
                                                  "weight", "origin", "confidence", "copies")}
                for ext, data in ((r.extension, read_bytes(r.source)), ("cls", str(r.target).encode()),
                                  ("json", json.dumps(meta).encode())):
                    _add(tar, f"{key}.{ext}", data)
    return len(samples), -(-len(samples) // o.shard_size)


def _samples(rows: list[_Row]) -> Iterator[tuple[str, _Row]]:
    """(WebDataset key, row): a row's copies as samples `<id>`, `<id>_1`, ... (keys have no dot)."""
    for r in rows:
        for k in range(r.copies):
            yield (r.image_id if k == 0 else f"{r.image_id}_{k}"), r


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0  # mtime 0: the same manifest, the same bytes
    tar.addfile(info, io.BytesIO(data))


WRITERS: dict[str, Callable[[list[_Row], Path, ExportOptions], tuple[int, int]]] = {
    "csv": _csv, "parquet": _parquet, "imagefolder": _imagefolder, "wds": _wds,
}


def _publish(tmp: Path, out: Path) -> None:
    """Rename the finished export into place; an old one is moved aside first, then removed."""
    old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
    had = out.exists() or out.is_symlink()
    if had:
        os.rename(out, old)
    os.rename(tmp, out)
    if had:
        _remove(old)


def _remove_stale(out: Path) -> None:
    """What a killed export left beside OUT (its private folder, or the old OUT moved aside)."""
    for prefix in (f".{out.name}.tmp-", f".{out.name}.old-"):
        for name in os.listdir(out.parent):  # names compared as text: OUT is never a pattern
            if name.startswith(prefix) and len(name) == len(prefix) + 8:
                _remove(out.parent / name)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
