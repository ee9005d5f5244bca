"""Reading files, in worker processes: content id, size, format, or why a file is a reject."""
from __future__ import annotations

from typing import Any

import pyarrow as pa

from plabel.fingerprints import fingerprint
from plabel.images import RejectedImage, probe, quiet_pillow, read_bytes

# -- reading files (runs in worker processes) ------------------------------------------------
BATCH_SCHEMA = pa.schema(
    [("path", pa.string()), ("split", pa.string()), ("label", pa.string()), ("true_label", pa.string()),
     ("image_id", pa.string()), ("bytes", pa.int64()), ("width", pa.int32()), ("height", pa.int32()),
     ("mode", pa.string()), ("format", pa.string()), ("thumbnail", pa.binary()), ("colour", pa.list_(pa.float32())),
     ("reason", pa.string()), ("shard", pa.string()), ("member_offset", pa.int64())]
)


def probe_many(job: tuple[list[Any], int]) -> pa.RecordBatch:
    """Probe a list of candidates into one Arrow batch (cheap to send back, ready to write)."""
    cands, pixel_limit = job
    cols: list[list[Any]] = [[] for _ in BATCH_SCHEMA]
    with quiet_pillow():
        for c in cands:
            described, reason = _described(c.fs_path, pixel_limit) if c.reason is None else (None, c.reason)
            values = (c.path, c.split, c.label, c.true_label) + (described or (None,) * 8) + (
                reason, c.shard, c.member_offset)
            for col, v in zip(cols, values, strict=True):
                col.append(v)
    return pa.RecordBatch.from_arrays([pa.array(c, f.type) for c, f in zip(cols, BATCH_SCHEMA,
        strict=True)], schema=BATCH_SCHEMA)


def _described(path: str, pixel_limit: int) -> tuple[tuple[Any, ...] | None, str | None]:
    """(image_id, bytes, width, height, mode, format, thumbnail, colour), or why the file was refused."""
    try:
        info, im = probe(read_bytes(path), pixel_limit)
        thumbnail, colour = fingerprint(im)
    except RejectedImage as e:
        return None, str(e)
    return (info.image_id, info.bytes, info.width, info.height, info.mode, info.format, thumbnail, colour), None
