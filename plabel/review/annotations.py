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
from typing import Any

import pyarrow as pa

from plabel import db, storage
from plabel.errors import UsageError
from plabel.images import one_line
from plabel.queries import query
from plabel.review.store import write_reviews
from plabel.review.tasks import ReviewImportOptions
from plabel.workspace import Workspace


@dataclass(kw_only=True)
class ReviewImportResult:
    review_id: str
    labeled: int  # images given a label
    unannotated: int  # tasks without a usable annotation (none, cancelled, or no choice)
    changed: int  # labels that differ from plabel's pre-annotation
    already_imported: bool = False
    held_out: int = 0  # reviews of held-out (val/test) images: kept as an audit, never trained on
    by_label: dict[str, int] = field(default_factory=dict)



def import_annotations(ws: Workspace, options: ReviewImportOptions) -> ReviewImportResult:
    """Read a Label Studio JSON export of tasks made by `plabel review export`."""
    file, from_name = Path(os.path.abspath(options.file)), options.from_name
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
    held_out = _check_images(ws, rows, file)
    result = ReviewImportResult(review_id=review_id, labeled=len(rows), unannotated=unannotated,
                                changed=sum(r["predicted"] is not None and r["predicted"] != r["label"] for r in rows),
                                held_out=held_out)
    for r in rows:
        result.by_label[r["label"]] = result.by_label.get(r["label"], 0) + 1
    result.already_imported = not write_reviews(ws, rows, review_id, ws.store_path(file),
                                                f"plabel review import {file}")
    return result


def _tasks(file: Path) -> list[dict[str, Any]]:
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise UsageError(f"{file}: not a JSON file ({one_line(e)})") from None
    if not isinstance(doc, list) or not all(isinstance(t, dict) for t in doc):
        raise UsageError(f"{file}: a Label Studio JSON export is a list of tasks")
    return doc


def _review(task: dict[str, Any], n: int, file: Path, from_name: str, classes: set[str]) -> dict[str, Any] | None:
    """The task's review row, or None when nobody labeled it; UsageError names a task whose shape
    is not Label Studio's."""
    where = f"{file}: task {n}"
    data = task.get("data")
    data = data if isinstance(data, dict) else {}
    image_id = data.get("image_id")
    if not isinstance(image_id, str) or not image_id:
        raise UsageError(f"{where} has no data.image_id (export tasks with `plabel review export`)")
    annotations = _list_of_dicts(task.get("annotations") or task.get("completions") or [], f"{where}: annotations")
    done = [a for a in annotations if a.get("was_cancelled") is not True and _choice(a, from_name, where) is not None]
    if not done:
        return None
    latest: dict[str, Any] = max(
        done, key=lambda a: (str(a.get("updated_at") or a.get("created_at") or ""), str(a.get("id"))))
    label = _choice(latest, from_name, where)
    if label not in classes:
        raise UsageError(f"{where} is labeled {label!r}, which is not a class of this workspace")
    proposed = _proposal(task, annotations, data, from_name, where)
    return {"image_id": image_id, "label": label,
            "predicted": proposed.get("label"), "model_version": proposed.get("model_version"),
            "task_id": _text(task.get("id")), "annotation_id": _text(latest.get("id")),
            "annotator": _annotator(latest.get("completed_by")),
            "annotated_at": _when(latest.get("updated_at") or latest.get("created_at"), where)}


def _proposal(task: dict[str, Any], annotations: list[dict[str, Any]], data: dict[str, Any], from_name: str,
              where: str) -> dict[str, Any]:
    """What plabel proposed: the task's prediction object (older exports), the prediction an
    annotation holds (Label Studio 1.x exports list prediction ids and put the object under
    `annotations[].prediction`), else the proposal `review export` wrote into the task's data."""
    predictions = task.get("predictions") or []
    if not isinstance(predictions, list):
        raise UsageError(f"{where}: predictions is a {type(predictions).__name__}, not a list")
    objects = [p for p in predictions if isinstance(p, dict)]
    objects += [a["prediction"] for a in annotations if isinstance(a.get("prediction"), dict)]
    for obj in objects:
        label = _choice(obj, from_name, where)
        if label is not None:
            version = obj.get("model_version")
            return {"label": label, "model_version": None if version in (None, "") else str(version)}
    if isinstance(data.get("plabel_predicted"), str):
        return {"label": data["plabel_predicted"], "model_version": _text(data.get("plabel_model_version"))}
    return {}


def _list_of_dicts(value: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        raise UsageError(f"{what} must be a list of objects (got {ascii(value)[:60]})")
    return value


def _choice(annotation: dict[str, Any], from_name: str, where: str) -> str | None:
    """The first choice of the Choices control `from_name` in an annotation's (or prediction's) result."""
    for r in _list_of_dicts(annotation.get("result") or [], f"{where}: result"):
        if r.get("type") != "choices" or r.get("from_name") != from_name:
            continue
        value = r.get("value")
        choices = value.get("choices") if isinstance(value, dict) else None
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            raise UsageError(f"{where}: value.choices must be a list of class names (got {ascii(choices)[:60]})")
        if choices:
            return str(choices[0])
    return None


def _annotator(who: Any) -> str | None:
    if isinstance(who, dict):
        return _text(who.get("email") or who.get("id"))
    return _text(who)


def _text(v: Any) -> str | None:
    return None if v is None else str(v)


def _when(text: Any, where: str) -> datetime | None:
    """An ISO 8601 time, in UTC (a time that UTC cannot hold, such as year 10000, is refused here,
    not later by a reader of the table)."""
    if not text:
        return None
    try:
        t = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise UsageError(f"{where}: {ascii(text)[:60]} is not an ISO 8601 time between years 1 and 9999") from None


def _check_images(ws: Workspace, rows: list[dict[str, Any]], file: Path) -> int:
    """UsageError for unknown or repeated images; how many are held out (an audit)."""
    ids = pa.table({"image_id": pa.array([r["image_id"] for r in rows], pa.string())})
    with ws.connect() as con, db.registered(con, "manifest_rows", ids), db.registered(con, "wanted", ids):
        unknown, example = db.row(con, query("manifest/unknown_ids"))
        held_out = len(db.rows(con, query("review/held_out_ids")))
    if unknown:
        raise UsageError(f"{file}: {unknown} tasks name images that are not in this workspace (e.g. {example})")
    seen: set[str] = set()
    for r in rows:
        if r["image_id"] in seen:
            raise UsageError(f"{file}: image {r['image_id']} is in two tasks; keep one")
        seen.add(r["image_id"])
    return held_out
