"""Manifests: the Parquet files a student trains on (labeled and pseudo-labeled rows).

A manifest has at least `image_id`, `path` and `target`; optional columns are the sparse soft
label (`target_index`, `target_prob`), `copies` (draws per pass, default 1), `weight` (loss
weight, default 1) and `origin` (labeled or pseudo, default labeled).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from plabel import db, storage
from plabel.errors import DataError, UsageError
from plabel.queries import Query, query
from plabel.schema import table
from plabel.shards import exists as exists_source
from plabel.workspace import Workspace

REQUIRED = ("image_id", "path", "target")
# A selection balances classes by copies of at most N / 1 per row; a pass of more than this many
# draws per row on average (or 10M in all) is a crafted or broken manifest, not a selection.
MAX_MEAN_COPIES = 1000
MIN_DRAW_LIMIT = 10_000_000

# The labeled train images as manifest rows: round 0's manifest, and the labeled part of each selection's.


@dataclass
class SoftLabels:
    """Sparse soft labels, CSR style: row r's classes are index[offsets[r]:offsets[r + 1]]."""

    offsets: np.ndarray  # int64, one more than rows
    index: np.ndarray  # int64 class ids
    prob: np.ndarray  # float32

    def take(self, idx: np.ndarray) -> SoftLabels:
        lo, hi = self.offsets[idx], self.offsets[idx + 1]
        parts = [np.arange(a, b) for a, b in zip(lo, hi, strict=True)]
        take = np.concatenate(parts) if parts else np.empty(0, np.int64)
        return SoftLabels(np.concatenate([[0], np.cumsum(hi - lo)]), self.index[take], self.prob[take])


@dataclass
class Manifest:
    """A manifest's rows, as arrays (no Python object per row)."""

    path: str  # the file, as stored (relative to the workspace when inside it)
    hash: str
    image_ids: np.ndarray  # object strings, for error messages and lineage
    files: np.ndarray  # fixed-width bytes: workers read them without touching refcounts
    target: np.ndarray  # int64
    soft: SoftLabels | None  # None: every row is hard
    copies: np.ndarray  # int64
    weight: np.ndarray  # float32
    pseudo: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.target)

    @property
    def has_soft(self) -> bool:
        return self.soft is not None

    def soft_targets(self, rows: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
        """(dense soft targets [len(rows), C], mask of rows that have one)."""
        dense = np.zeros((len(rows), num_classes), np.float32)
        has = np.zeros(len(rows), bool)
        if self.soft is not None:
            offsets, index, prob = self.soft.offsets, self.soft.index, self.soft.prob
            for j, r in enumerate(rows):
                a, b = offsets[r], offsets[r + 1]
                if b > a:
                    dense[j, index[a:b]] = prob[a:b]
                    has[j] = True
        return dense, has

    def select(self, mask: np.ndarray) -> Manifest:
        idx = np.flatnonzero(mask)
        soft = self.soft.take(idx) if self.soft is not None else None
        return Manifest(self.path, self.hash, self.image_ids[idx], self.files[idx], self.target[idx], soft,
                        self.copies[idx], self.weight[idx], self.pseudo[idx])


def write_manifest(con: duckdb.DuckDBPyConnection, sql: Query, params: dict[str, Any] | None, dest: Path) -> int:
    """The one writer of manifest files (round 0's and each selection's): the rows of `sql`, in
    the `manifests` table's schema, atomically; rows written."""
    return storage.write_query(con, sql, params, dest, table("manifests"))


def labeled_manifest(ws: Workspace) -> Path:
    """Round 0's manifest: the labeled train split and reviewed images, written once per distinct content."""
    folder = ws.train_dir / "manifests"
    with ws.connect() as con:
        db.define(con, [query("images/first_rows"), query("manifest/labeled_rows")])
        if not db.scalar(con, query("selection/labeled_count"), {"include_labeled": True}):
            raise UsageError("no labeled images: `plabel ingest DIR --split train` (or `plabel review import`) first")
        tmp = folder / storage.part_name("labeled")
        write_manifest(con, query("manifest/labeled"), None, tmp)
    final = folder / f"labeled-{storage.file_hash(tmp, 16)}.parquet"
    if final.exists():
        tmp.unlink()
    else:
        os.replace(tmp, final)
    return final


def _list_column(col: pa.ChunkedArray, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    arr = col.combine_chunks()
    offsets = arr.offsets.to_numpy().astype(np.int64)
    values = arr.values.to_numpy(zero_copy_only=False).astype(dtype)
    return offsets - offsets[0], values[offsets[0] : offsets[-1]]


def read_manifest(ws: Workspace, file: str | os.PathLike[str], num_classes: int) -> Manifest:
    """Read and check a manifest file; UsageError names the first problem."""
    file = Path(os.path.abspath(file))
    if not file.is_file():
        raise UsageError(f"no such manifest: {file}")
    try:
        t = pq.read_table(file)
    except Exception as e:
        raise UsageError(f"{file}: not a readable Parquet file ({e})") from None
    missing = [c for c in REQUIRED if c not in t.column_names]
    if missing:
        raise UsageError(f"{file}: a manifest needs columns {', '.join(REQUIRED)}; missing {', '.join(missing)}")
    n = t.num_rows
    if n == 0:
        raise UsageError(f"{file}: the manifest is empty")
    target = t.column("target").to_numpy(zero_copy_only=False)
    if pc.any(pc.is_null(t.column("target"))).as_py() or target.min() < 0 or target.max() >= num_classes:
        raise UsageError(
            f"{file}: targets must be class ids in [0, {num_classes}); the workspace has {num_classes} classes"
        )
    copies, weight = _draws(t, file)
    origin = t.column("origin").to_pylist() if "origin" in t.column_names else ["labeled"] * n
    soft = _soft_labels(t, file, num_classes)
    ids = t.column("image_id")
    paths = _sources(ws, t, file)
    return Manifest(ws.store_path(file), storage.file_hash(file), np.array(ids.to_pylist(), dtype=object),
                    np.array([p.encode() for p in paths]), target.astype(np.int64), soft, copies, weight,
                    np.array([o == "pseudo" for o in origin]))


def _soft_labels(t: pa.Table, file: Path, num_classes: int) -> SoftLabels | None:
    """The sparse soft labels; None when every row is hard."""
    if "target_index" not in t.column_names or t.column("target_index").null_count == t.num_rows:
        return None
    # rows without a soft label (null) are hard: their list is empty
    offsets, index = _list_column(t.column("target_index"), np.int64)
    _, prob = _list_column(t.column("target_prob"), np.float32)
    if len(index) != len(prob) or (index < 0).any() or (index >= num_classes).any():
        raise UsageError(f"{file}: target_index/target_prob do not match, or name unknown classes")
    if not np.isfinite(prob).all() or (prob < 0).any():
        raise UsageError(f"{file}: target_prob holds NaN, infinite or negative probabilities")
    return SoftLabels(offsets, index, prob)


def _column(t: pa.Table, name: str, default: Any, dtype: Any) -> np.ndarray:
    if name not in t.column_names:
        return np.full(t.num_rows, default, dtype)
    col = t.column(name)
    if col.null_count:
        raise UsageError(f"manifest column {name} has {col.null_count} nulls")
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=dtype)


def _draws(t: pa.Table, file: Path) -> tuple[np.ndarray, np.ndarray]:
    """(copies, weight), checked: finite, >= 0, some row drawn, a pass of bounded length."""
    copies = _column(t, "copies", 1, np.float64)
    weight = _column(t, "weight", 1.0, np.float32)
    if not (np.isfinite(copies).all() and np.isfinite(weight).all()):
        raise UsageError(f"{file}: copies and weight must be finite numbers")
    if (copies < 0).any() or (weight < 0).any() or (copies != np.floor(copies)).any():
        raise UsageError(f"{file}: copies must be whole numbers >= 0 and weight >= 0")
    draws, limit = copies.sum(), max_draws(t.num_rows)
    if draws == 0:
        raise UsageError(f"{file}: every row has copies = 0, so a pass would draw nothing")
    if draws > limit:
        raise UsageError(
            f"{file}: one pass would draw {draws:,.0f} images from {t.num_rows:,} rows; at most {limit:,} "
            f"({MAX_MEAN_COPIES} per row on average, or {MIN_DRAW_LIMIT:,}) are allowed"
        )
    return copies.astype(np.int64), weight


def max_draws(rows: int) -> int:
    """The longest pass a manifest may ask for: its index arrays are held in memory."""
    return max(MAX_MEAN_COPIES * rows, MIN_DRAW_LIMIT)


def _sources(ws: Workspace, t: pa.Table, file: Path) -> list[str]:
    """What each row's reader opens (Workspace.sources); every image id must be the workspace's."""
    rows = pa.table({"image_id": t.column("image_id"), "path": t.column("path").cast(pa.string()),
                     "seq": pa.array(range(t.num_rows), pa.int64())})
    with ws.connect() as con, db.registered(con, "manifest_rows", rows):
        unknown, example = db.row(con, query("manifest/unknown_ids"))
        held_out, held_example = db.row(con, query("manifest/held_out_rows"))
        members = db.rows(con, query("manifest/member_rows")) if not unknown else []
    if unknown:
        raise UsageError(
            f"{file}: {unknown} image ids are not in this workspace (e.g. {example}); "
            "is the manifest from another workspace?"
        )
    if held_out:
        raise UsageError(f"{file}: {held_out} rows are held-out (val/test) images (e.g. {held_example}); "
                         "no manifest trains on those")
    return ws.sources(rows.column("path").to_pylist(), *(list(c) for c in zip(*members, strict=True)))


def check_files(m: Manifest, skip_missing: bool) -> tuple[Manifest, int]:
    """Drop (with skip_missing) or refuse rows whose file no longer exists."""
    exists = np.array([exists_source(f.decode()) for f in m.files], dtype=bool)
    missing = int((~exists).sum())
    if missing and not skip_missing:
        first = m.files[~exists][0].decode()
        raise DataError(
            f"{missing} files of the manifest no longer exist (first: {first}); pass `skip_missing` to skip them"
        )
    return (m.select(exists) if missing else m), missing
