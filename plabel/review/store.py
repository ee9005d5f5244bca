"""The one writer of the `reviews` table: review rows committed as one part file each, by
`plabel review import` (a Label Studio export) and by `plabel view` (a review in the browser)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from plabel import storage
from plabel.schema import table
from plabel.workspace import Workspace


def write_reviews(ws: Workspace, rows: list[dict[str, Any]], review_id: str, source: str, command: str) -> bool:
    """Commit `rows` (image_id, label, predicted, model_version, task_id, annotation_id,
    annotator, annotated_at) as review `review_id`, under the write lock. False, with nothing
    written, when that review was committed before (an import read again gives the same rows)."""
    dest = ws.table_dir("reviews") / f"review-{review_id}.parquet"
    with ws.writing(command):
        if dest.exists():
            return False
        now = datetime.now(timezone.utc)
        full = [{**r, "review_id": review_id, "source": source, "imported_at": now} for r in rows]
        storage.write_arrow(pa.Table.from_pylist(full, schema=table("reviews").arrow_schema()), dest, table("reviews"))
    return True
