"""`plabel review export`: the images a query picks as Label Studio tasks, pre-annotated by round R.

Each task's `data` holds the image's URL (Label Studio's local-files form by default), its
`image_id` and the round; its `predictions` hold round R's class as a Choices pre-annotation with
the confidence as `score` and the checkpoint as `model_version`. A Label Studio labeling config
with the workspace's classes is written beside the tasks. A shard member cannot be served as a
file: its bytes are written into a media folder beside the tasks, and the task points there.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

import pyarrow as pa

from plabel import db, storage
from plabel.errors import UsageError
from plabel.export import EXTENSIONS
from plabel.fields import cli
from plabel.images import read_bytes
from plabel.queries import query
from plabel.readonly_sql import run_query
from plabel.workspace import Workspace

FROM_NAME, TO_NAME = "label", "image"  # the labeling config's Choices and Image names


@dataclass(frozen=True, kw_only=True)
class ReviewExportOptions:
    round: int
    query: str = field(metadata=cli(  # read-only SQL whose `image_id` column names the images to review, in order
        "Read-only SQL whose image_id column picks the images, in order."))
    out: str  # the tasks file (.json; the command's argument)
    limit: int | None = field(default=None, metadata=cli("At most this many tasks.", min=1))
    # Label Studio's local files; or http://host/ of a file server
    url_prefix: str = field(default="/data/local-files/?d=", metadata=cli(
        "Prefix of each image's URL (Label Studio's local files by default)."))
    document_root: str = field(default="/", metadata=cli(  # Label Studio's LOCAL_FILES_DOCUMENT_ROOT
        "What image URLs are relative to (LOCAL_FILES_DOCUMENT_ROOT)."))
    overwrite: bool = field(default=False, metadata=cli("Replace OUT if it exists.", "--overwrite"))
    # allow held-out (val/test) images: their tasks are marked, their labels never train
    audit: bool = field(default=False, metadata=cli(
        "Allow held-out (val/test) images: their tasks are marked as an audit and their labels never train.",
        "--audit"))


@dataclass(frozen=True, kw_only=True)
class ReviewImportOptions:
    file: str | os.PathLike[str]  # Label Studio's JSON export of the annotated tasks (the command's argument)
    from_name: str = field(default=FROM_NAME, metadata=cli("The Choices control holding the label."))


@dataclass(kw_only=True)
class ReviewExportResult:
    round: int
    tasks: int
    predicted: int  # tasks with a pre-annotation
    out: str
    label_config: str
    media: int  # shard members written out
    held_out: int = 0  # audit tasks: held-out images, whose labels never enter a manifest
    storage_path: str = ""  # the folder Label Studio's Local Files storage must name (in <out>.local-storage.json)



def export_tasks(ws: Workspace, o: ReviewExportOptions) -> ReviewExportResult:
    out = storage.outside(ws.root, o.out, "OUT")
    if out.suffix.lower() != ".json":
        raise UsageError(f"{out}: the tasks file must end in .json")
    if out.exists() and not o.overwrite:
        raise UsageError(f"{out} exists (pass `overwrite` to replace it)")
    if o.limit is not None and o.limit < 1:
        raise UsageError(f"`limit` must be at least 1 (got {o.limit})")
    ids = _picked(ws, o)
    held_out = _held_out(ws, o, ids)
    rows = _rows(ws, o, ids)
    media_dir = out.with_name(f"{out.stem}-media")
    tasks, media, served = [], 0, []
    for image_id, path, shard, offset, size, fmt, predicted, conf, ckpt, model in rows:
        source = ws.source(path, shard, offset, size)
        if shard is not None:  # Label Studio serves files: the member's bytes become one
            media_dir.mkdir(parents=True, exist_ok=True)
            file = media_dir / f"{image_id}.{EXTENSIONS.get(fmt, 'img')}"
            storage.write_bytes_atomic(file, read_bytes(source))
            source, media = str(file), media + 1
        served.append(source)
        task: dict[str, Any] = {"data": {"image": _url(source,
                                                       o), "image_id": image_id, "plabel_round": o.round, "path": path}}
        if predicted is not None:  # also in the data: Label Studio 1.x exports predictions as ids only
            task["data"].update(plabel_predicted=predicted, plabel_model_version=f"{ckpt} ({model})")
        if image_id in held_out:
            task["data"]["plabel_audit"] = True  # a held-out image: its label is kept, never trained on
        if predicted is not None:
            task["predictions"] = [{"model_version": f"{ckpt} ({model})", "score": float(conf), "result": [
                {"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices", "value": {"choices": [predicted]}}]}]
        tasks.append(task)
    config = out.with_name(f"{out.stem}.label-config.xml")
    storage.write_text_atomic(config, label_config(ws.class_names()))
    folder = _served_folder(served)
    storage.write_text_atomic(out.with_name(f"{out.stem}.local-storage.json"), json.dumps(
        {"title": "plabel images", "path": folder, "use_blob_urls": False, "regex_filter": ""}, indent=1))
    storage.write_text_atomic(out, json.dumps(tasks, indent=1, ensure_ascii=False))
    return ReviewExportResult(round=o.round, tasks=len(tasks), predicted=sum("predictions" in t for t in tasks),
                              out=str(out), label_config=str(config), media=media, held_out=len(held_out),
                              storage_path=folder)


def _picked(ws: Workspace, o: ReviewExportOptions) -> list[str]:
    """The distinct image ids the query returns, in its order, up to the limit."""
    result = run_query(ws, o.query)
    try:
        if "image_id" not in result.columns:
            raise UsageError("the review query must return an image_id column "
                             f"(it returns {', '.join(result.columns)})")
        ids: dict[str, None] = {}
        for batch in result.reader:
            for v in batch.column(result.columns.index("image_id")).to_pylist():
                if v is not None:
                    ids.setdefault(str(v))
                if o.limit and len(ids) >= o.limit:
                    return list(ids)
        return list(ids)
    finally:
        result.close()


def _held_out(ws: Workspace, o: ReviewExportOptions, ids: list[str]) -> set[str]:
    """The picked images that are held out (val/test); UsageError unless `audit`."""
    wanted = pa.table({"image_id": pa.array(ids, pa.string())})
    with ws.connect() as con, db.registered(con, "wanted", wanted):
        held = {r[0] for r in db.rows(con, query("review/held_out_ids"))}
    if held and not o.audit:
        raise UsageError(f"{len(held)} of the {len(ids)} images the query picked are held-out (val/test) images, "
                         f"e.g. {min(held)}: their labels must never train (pick split = 'unlabeled' images, or "
                         "pass `audit` to review them as an audit)")
    return held


def _rows(ws: Workspace, o: ReviewExportOptions, ids: list[str]) -> list[tuple[Any, ...]]:
    if not ids:
        raise UsageError("the review query picked no images")
    wanted = pa.table({"seq": pa.array(range(len(ids)), pa.int64()), "image_id": pa.array(ids, pa.string())})
    with ws.connect() as con:
        db.execute(con, query("images/first_rows"))
        with db.registered(con, "wanted", wanted):
            rows = db.rows(con, query("review/tasks"), {"round": o.round})
    if len(rows) < len(ids):
        missing = sorted(set(ids) - {r[0] for r in rows})
        raise UsageError(f"{len(missing)} image ids the query returned are not in the workspace (e.g. {missing[0]})")
    return rows


def _url(source: str, o: ReviewExportOptions) -> str:
    root = os.path.abspath(o.document_root)
    if os.path.commonpath([root, source]) != root:
        raise UsageError(f"{source} is outside `document_root` {root}: Label Studio could not serve it")
    return o.url_prefix + quote(os.path.relpath(source, root))


def _served_folder(files: list[str]) -> str:
    """The folder holding every served file: what a Label Studio Local Files storage names (without
    one, Label Studio answers 404 for /data/local-files/ URLs)."""
    return os.path.commonpath([os.path.dirname(f) for f in files])


def label_config(classes: list[str]) -> str:
    """A Label Studio labeling config: the image and one single choice among the classes (names
    are XML attributes, quoted: a class name is never markup)."""
    choices = "\n".join(f"    <Choice value={quoteattr(c)}/>" for c in classes)
    return (f'<View>\n  <Image name="{TO_NAME}" value="$image"/>\n'
            f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single" showInLine="true">\n'
            f"{choices}\n  </Choices>\n</View>\n")
