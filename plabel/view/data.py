"""What `plabel view`'s pages show, read from the tables (named queries under schemas/queries/view/).

Pages read a snapshot (plabel.view.snapshot): the workspace as its last commit left it, the
round's decisions kept in memory until another command commits.
"""
from __future__ import annotations

import io
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from plabel import db
from plabel.drift import RoundRow, rounds
from plabel.images import RejectedImage, decode_rgb, read_bytes
from plabel.queries import query
from plabel.view.snapshot import Snapshots
from plabel.workspace import Workspace

Sort = Literal["confidence", "margin", "flip"]
Status = Literal["selected", "reviewed", "contamination", "duplicate", "no selection", "threshold", "cutoff"]
SORTS, STATUSES = get_args(Sort), get_args(Status)
THUMB = 96  # thumbnail edge in pixels
MAX_PAGE = 200  # grid rows per page at most
MATRIX_CLASSES = 40  # rows and columns of the flip matrix (the classes with the most images)
THUMB_CACHE = 20_000  # thumbnails kept in memory (about 2-8 KB each)
_THUMBS: OrderedDict[tuple[str, str], bytes | None] = OrderedDict()
_SOURCES: OrderedDict[tuple[str, str], tuple[Any, ...]] = OrderedDict()  # image -> where its bytes are
_LOCK = threading.Lock()


@dataclass(frozen=True, kw_only=True)
class GridQuery:
    """A grid page: round `round`'s predictions on `split`, filtered, sorted, after a keyset cursor."""

    round: int
    split: str = "unlabeled"
    class_id: int | None = None
    min_confidence: float = 0.0
    max_confidence: float = 1.0
    status: Status | None = None  # selected, or why an image was not
    other: int | None = None  # the round flips and confidence changes are measured against
    flipped: bool = False  # only images whose class differs in round `other`
    other_class_id: int | None = None  # only images of this class in round `other` (a flip matrix cell)
    reviewed: bool | None = None
    correct: bool | None = None  # against withheld labels, where they exist
    sort: Sort = "confidence"
    ascending: bool = False
    after_key: float | None = None  # the keyset cursor: the last row's sort key and image id
    after_id: str | None = None
    limit: int = 60


@dataclass(kw_only=True)
class GridPage:
    rows: list[dict[str, Any]]
    next_cursor: tuple[float, str] | None  # (key, image_id) of the last row, when more may follow


@dataclass(kw_only=True)
class Overview:
    rounds: list[RoundRow]
    funnel: list[dict[str, Any]]
    balance: list[dict[str, Any]]
    prediction_rounds: list[int]


def classes(snaps: Snapshots) -> list[tuple[int, str]]:
    with snaps.use() as (snap, con):
        return snap.remembered("classes", lambda: [(int(c), str(n))
                                                   for c, n in db.rows(con, query("workspace/classes"))])


def prediction_rounds(snaps: Snapshots) -> list[int]:
    with snaps.use() as (snap, con):
        return snap.remembered("rounds", lambda: [int(r)
                                                  for (r,) in db.rows(con, query("report/prediction_rounds"))])


def overview(snaps: Snapshots) -> Overview:
    """Every round (round_summary), each round's selection funnel and class balance."""
    with snaps.use() as (snap, con):
        funnel = snap.remembered("funnel", lambda: db.dicts(con, query("view/funnel")))
        balance = snap.remembered("balance", lambda: db.dicts(con, query("view/class_balance")))
        summary = snap.remembered("round_summary", lambda: rounds(snaps.ws))
    return Overview(rounds=summary, funnel=funnel, balance=balance, prediction_rounds=prediction_rounds(snaps))


def warm(snaps: Snapshots) -> None:
    """Make the snapshot every page reads: the overview's summaries and each round's decisions
    (what `plabel view` does before it prints its address, so that no first page waits)."""
    overview(snaps)
    with snaps.use(prediction_rounds(snaps)):
        pass


def grid(snaps: Snapshots, q: GridQuery) -> GridPage:
    """One page of the grid, `q.limit` rows after q's cursor (keyset pagination: a page costs the
    same however far the user has paged)."""
    limit = min(q.limit, MAX_PAGE)
    params = {"round": q.round, "split": q.split, "class_id": q.class_id, "min_confidence": q.min_confidence,
              "max_confidence": q.max_confidence, "status": q.status, "reviewed": q.reviewed, "correct": q.correct,
              "other": q.other if q.other is not None else -1, "flipped": q.flipped, "other_class": q.other_class_id,
              "sort": q.sort, "ascending": q.ascending, "after_key": q.after_key, "after_id": q.after_id or "",
              "limit": limit + 1}
    names = dict(classes(snaps))
    with snaps.use([q.round] + ([q.other] if q.other is not None else [])) as (_, con):
        rows = db.dicts(con, query("view/grid"), params)
        more, rows = len(rows) > limit, rows[:limit]
        found = db.rows(con, query("view/sources"), {"ids": [r["image_id"] for r in rows]})
    remember_sources(snaps.ws, {i: tuple(where) for i, *where in found})
    for r in rows:  # class names here: joined in SQL they would cost a join over every row
        r.update(class_name=names.get(r["class_id"]), other_name=names.get(r["other_class"]),
                 true_name=names.get(r["true_class"]))
    return GridPage(rows=rows, next_cursor=(rows[-1]["key"], rows[-1]["image_id"]) if more else None)


def remember_sources(ws: Workspace, sources: dict[str, tuple[Any, ...]]) -> None:
    """Where the images of a page are (path, shard, member offset, size), kept for their thumbnails."""
    with _LOCK:
        for image_id, where in sources.items():
            _SOURCES[(str(ws.root), image_id)] = where
            _SOURCES.move_to_end((str(ws.root), image_id))
        while len(_SOURCES) > THUMB_CACHE:
            _SOURCES.popitem(last=False)


@dataclass(kw_only=True)
class ImageDetail:
    image: dict[str, Any]
    predictions: list[dict[str, Any]]  # one per round, with its top-k as (class name, probability)
    decisions: dict[int, dict[str, Any]]  # round -> what its selection decided
    duplicates: list[dict[str, Any]]
    reviews: list[dict[str, Any]]
    classes: list[tuple[int, str]] = field(default_factory=list)


def image_detail(snaps: Snapshots, image_id: str) -> ImageDetail | None:
    """Everything about one image, or None when no image has that id."""
    names = dict(classes(snaps))
    with snaps.use() as (_, con):
        found = db.dicts(con, query("view/image"), {"image_id": image_id})
        preds = db.dicts(con, query("view/image_predictions"), {"image_id": image_id}) if found else []
        dups = db.dicts(con, query("view/image_duplicates"), {"image_id": image_id})
        reviews = db.dicts(con, query("view/image_reviews"), {"image_id": image_id})
    if not found:
        return None
    for p in preds:
        p["class_name"] = names.get(p["class_id"])
        p["topk"] = [(names.get(c), pr) for c, pr in zip(p["topk_index"] or [], p["topk_prob"] or [], strict=True)]
    with snaps.use([p["round"] for p in preds]) as (_, con):
        decisions = {p["round"]: db.dicts(con, query("view/image_decisions"),
                                          {"round": p["round"], "image_id": image_id})[0] for p in preds}
    return ImageDetail(image=found[0], predictions=preds, decisions=decisions, duplicates=dups, reviews=reviews,
                       classes=sorted(names.items()))


def image_bytes(ws: Workspace, image_id: str) -> bytes | None:
    """The image's file (or shard member) as stored, found by its id alone; None when unknown."""
    with _LOCK:
        where = _SOURCES.get((str(ws.root), image_id))
    if where is None:
        with ws.connect() as con:
            db.define(con, [query("images/first_rows")])  # not the snapshot's: thumbnails load in parallel
            found = db.rows(con, query("view/sources"), {"ids": [image_id]})
        if not found:
            return None
        where = tuple(found[0][1:])
    try:
        return read_bytes(ws.source(*where))
    except (OSError, RejectedImage):
        return None


def thumbnail(ws: Workspace, image_id: str) -> bytes | None:
    """A PNG of at most THUMB pixels a side, kept in memory for later pages (an image id names its
    content, so a cached thumbnail never goes stale)."""
    key = (str(ws.root), image_id)
    with _LOCK:
        if key in _THUMBS:
            _THUMBS.move_to_end(key)
            return _THUMBS[key]
    raw = image_bytes(ws, image_id)
    try:
        im = decode_rgb(raw) if raw is not None else None
    except RejectedImage:
        im = None
    png = None
    if im is not None:
        im.thumbnail((THUMB, THUMB))
        buf = io.BytesIO()
        im.save(buf, "PNG")
        png = buf.getvalue()
    with _LOCK:
        _THUMBS[key] = png
        while len(_THUMBS) > THUMB_CACHE:
            _THUMBS.popitem(last=False)
    return png


@dataclass(kw_only=True)
class FlipMatrix:
    classes: list[tuple[int, str]]  # the rows and columns: the classes with the most images in either round
    cells: list[list[int]]  # images by class in round a (row) and in round b (column)
    total_classes: int  # classes with any image in either round


def flip_matrix(snaps: Snapshots, round_a: int, round_b: int, split: str = "unlabeled",
                largest: int = MATRIX_CLASSES) -> FlipMatrix:
    """The images of `split` by their class in round a and in round b, for the `largest` classes."""
    with snaps.use() as (_, con):
        found = db.rows(con, query("view/transitions"), {"round_a": round_a, "round_b": round_b, "split": split})
    size: dict[int, int] = {}
    for a, b, n in found:
        size[a] = size.get(a, 0) + n
        size[b] = size.get(b, 0) + n
    names = dict(classes(snaps))
    keep = sorted(sorted(size, key=lambda c: -size[c])[:largest])
    index = {c: i for i, c in enumerate(keep)}
    cells = [[0] * len(keep) for _ in keep]
    for a, b, n in found:
        if a in index and b in index:
            cells[index[a]][index[b]] = n
    return FlipMatrix(classes=[(c, names.get(c, str(c))) for c in keep], cells=cells, total_classes=len(size))


def duplicates(snaps: Snapshots, round: int, scope: str, limit: int = 500) -> list[dict[str, Any]]:
    """Round `round`'s duplicate rows of a scope (unlabeled: groups; held_out: contamination)."""
    with snaps.use() as (_, con):
        return db.dicts(con, query("view/duplicates"), {"round": round, "scope": scope, "limit": limit})
