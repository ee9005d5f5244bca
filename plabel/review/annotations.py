"""`plabel review import`: a Label Studio JSON export read back as labeled rows with provenance.

For each task of the export (Label Studio's JSON format: `data`, `annotations` or the older
`completions`, `predictions`) the newest annotation that was not cancelled and holds a choice
gives the image's label; `data.image_id` (written by `plabel review export`) names the image.
Who (`completed_by`), when (`updated_at`), the task and annotation ids, and what plabel had
proposed go into the `reviews` table. Tasks nobody annotated are counted and left out.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from plabel import db, storage
from plabel.errors import UsageError
from plabel.images import one_line
from plabel.review.tasks import FROM_NAME
from plabel.schema import table
from plabel.sql import query
from plabel.workspace import Workspace


@dataclass
class ReviewImportResult:
    review_id: str
    labeled: int  # images given a label
    unannotated: int  # tasks without a usable annotation (none, cancelled, or no choice)
    changed: int  # labels that differ from plabel's pre-annotation
    already_imported: bool = False
    by_label: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def import_annotations(ws: Workspace, file: str | os.PathLike, from_name: str = FROM_NAME) -> ReviewImportResult:
    """Read a Label Studio JSON export of tasks made by `plabel review export`."""
    file = Path(os.path.abspath(file))
    if not file.is_file():
        raise UsageError(f"no such file: {file}")
    review_id = storage.file_hash(file, 16)
    tasks = _tasks(file)
    classes = set(ws.class_names())
    rows, unannotated = [], 0
    for n, task in enumerate(tasks, start=1):
        row = _review(task, n, file, from_name, classes)
        if row is None:
            unannotated += 1
        else:
            rows.append(row)
    _check_images(ws, rows, file)
    dest = ws.table_dir("reviews") / f"review-{review_id}.parquet"
    result = ReviewImportResult(review_id, len(rows), unannotated,
                                sum(r["predicted"] is not None and r["predicted"] != r["label"] for r in rows))
    for r in rows:
        result.by_label[r["label"]] = result.by_label.get(r["label"], 0) + 1
    with ws.writing(f"plabel review import {file}"):
        if dest.exists():  # the same export read again: the same rows
            result.already_imported = True
            return result
        now, source = datetime.now(timezone.utc), ws.store_path(file)
        full = [{**r, "review_id": review_id, "source": source, "imported_at": now} for r in rows]
        storage.write_arrow(pa.Table.from_pylist(full, schema=table("reviews").arrow_schema()), dest, table("reviews"))
    return result


def _tasks(file: Path) -> list[dict]:
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise UsageError(f"{file}: not a JSON file ({one_line(e)})") from None
    if not isinstance(doc, list) or not all(isinstance(t, dict) for t in doc):
        raise UsageError(f"{file}: a Label Studio JSON export is a list of tasks")
    return doc


def _review(task: dict, n: int, file: Path, from_name: str, classes: set[str]) -> dict | None:
    """The task's review row, or None when nobody labeled it."""
    data = task.get("data")
    image_id = data.get("image_id") if isinstance(data, dict) else None
    if not isinstance(image_id, str) or not image_id:
        raise UsageError(f"{file}: task {n} has no data.image_id (export tasks with `plabel review export`)")
    done = [a for a in task.get("annotations") or task.get("completions") or []
            if isinstance(a, dict) and not a.get("was_cancelled") and _choice(a, from_name) is not None]
    if not done:
        return None
    latest: dict = max(done, key=lambda a: (str(a.get("updated_at") or a.get("created_at") or ""), str(a.get("id"))))
    label = _choice(latest, from_name)
    if label not in classes:
        raise UsageError(f"{file}: task {n} is labeled {label!r}, which is not a class of this workspace")
    proposed = next(iter(task.get("predictions") or []), None)
    return {"image_id": image_id, "label": label,
            "predicted": _choice(proposed, from_name) if isinstance(proposed, dict) else None,
            "model_version": str(proposed.get("model_version")) if isinstance(proposed, dict) else None,
            "task_id": _text(task.get("id")), "annotation_id": _text(latest.get("id")),
            "annotator": _annotator(latest.get("completed_by")),
            "annotated_at": _when(latest.get("updated_at") or latest.get("created_at"), file, n)}


def _choice(annotation: dict, from_name: str) -> str | None:
    for r in annotation.get("result") or []:
        value = r.get("value") if isinstance(r, dict) else None
        if r.get("type") == "choices" and r.get("from_name") == from_name and isinstance(value, dict):
            choices = value.get("choices") or []
            if choices and isinstance(choices[0], str):
                return choices[0]
    return None


def _annotator(who) -> str | None:
    if isinstance(who, dict):
        return _text(who.get("email") or who.get("id"))
    return _text(who)


def _text(v) -> str | None:
    return None if v is None else str(v)


def _when(text, file: Path, n: int) -> datetime | None:
    if not text:
        return None
    try:
        t = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{file}: task {n}: {text!r} is not an ISO 8601 time") from None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _check_images(ws: Workspace, rows: list[dict], file: Path) -> None:
    ids = pa.table({"image_id": pa.array([r["image_id"] for r in rows], pa.string())})
    con = ws.connect()
    try:
        with db.registered(con, "manifest_rows", ids):
            unknown, example = db.row(con, query("manifest/unknown_ids"))
    finally:
        con.close()
    if unknown:
        raise UsageError(f"{file}: {unknown} tasks name images that are not in this workspace (e.g. {example})")
    seen: set[str] = set()
    for r in rows:
        if r["image_id"] in seen:
            raise UsageError(f"{file}: image {r['image_id']} is in two tasks; keep one")
        seen.add(r["image_id"])
