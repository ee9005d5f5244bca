"""The `rejects` table: one builder of its rows for every stage that meets an unreadable image.

(ingest's rejects come straight from its batch table in SQL: schemas/queries/ingest/new_rejects.sql.)
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from plabel.schema import table


def rejects_table(found: dict[str, Any], stage: str, round: int | None, source_id: str) -> pa.Table:
    """Rows for the images in `found` (columns as lists: image_id, split, path as stored, reason)."""
    n = len(found["path"])
    return pa.Table.from_pydict({
        "path": found["path"], "reason": found["reason"], "stage": [stage] * n, "split": found["split"],
        "image_id": found["image_id"], "round": [round] * n, "source_id": [source_id] * n,
        "rejected_at": [datetime.now(timezone.utc)] * n,
    }, schema=table("rejects").arrow_schema())
