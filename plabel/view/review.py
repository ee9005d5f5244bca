"""A review made in the browser: accept round R's pseudo label, relabel it, or reject it. Written
to the same `reviews` table, by the same writer, as a Label Studio import; the next `plabel
select` keeps the image out of the pseudo labels, and a review that names a class makes it a
labeled row."""
from __future__ import annotations

import getpass
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from plabel import db
from plabel.errors import UsageError, check_fields
from plabel.queries import query
from plabel.review.store import write_reviews
from plabel.workspace import Workspace

Action = Literal["accept", "relabel", "reject"]


@dataclass(frozen=True, kw_only=True)
class Review:
    image_id: str
    round: int  # the round whose prediction is reviewed (accept keeps its class)
    action: Action
    label: str | None = None  # relabel: the class the reviewer gives


def review(ws: Workspace, r: Review, reviewer: str | None = None) -> str:
    """Commit one review row; its review id."""
    check_fields(r)
    with ws.connect() as con:
        found = db.dicts(con, query("view/prediction"), {"round": r.round, "image_id": r.image_id})
    if not found:
        raise UsageError(f"round {r.round} has no prediction of image {r.image_id!r}")
    predicted = found[0]["class_name"]
    label = {"accept": predicted, "relabel": r.label, "reject": None}[r.action]
    if r.action == "relabel" and label not in ws.class_names():
        raise UsageError(f"relabel needs a class of this workspace (got {r.label!r})")
    row = {"image_id": r.image_id, "label": label, "predicted": predicted, "model_version": found[0]["checkpoint_id"],
           "task_id": None, "annotation_id": None, "annotator": reviewer or _login(),
           "annotated_at": datetime.now(timezone.utc)}
    review_id = f"view-{secrets.token_hex(8)}"
    write_reviews(ws, [row], review_id, "plabel view", f"plabel view: review of {r.image_id}")
    return review_id


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "plabel view"
