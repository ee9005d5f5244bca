"""`train --holdout`: a share of the labeled train images kept out of training, to judge by.

`plabel calibrate` and `select --threshold auto` need labeled images the teacher has not seen.
Without a val split, `train --holdout 0.2` keeps 20% of each class's labeled train images out of
the teacher's training (and, inherited, its students'), chosen by content (holdout/held_out.sql)
so the same share names the same images in every round. The share is recorded in the
checkpoint's config; predicted with `infer --split train`, those images count as val evidence
for the round (selection/val_rows.sql), and `calibrate --split holdout` fits on them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np

from plabel import db
from plabel.queries import query

if TYPE_CHECKING:
    from plabel.evaluate import LabeledSplit
    from plabel.workspace import Workspace


def share_of(con: duckdb.DuckDBPyConnection, checkpoint_id: str | None) -> float:
    """The held-out share a checkpoint was trained with (0: none, or an unknown checkpoint)."""
    return float(db.scalar(con, query("holdout/share"), {"checkpoint_id": checkpoint_id or ""}))


def prepare(con: duckdb.DuckDBPyConnection, share: float) -> None:
    """The `held_out` temporary table of that share (empty for 0), which val_rows joins."""
    db.execute(con, query("holdout/held_out"), {"share": float(share)})


def held_out_rows(ws: Workspace, share: float) -> list[tuple[Any, ...]]:
    """(image_id, path, class_id, shard, member_offset, bytes) of the images a share holds out."""
    with ws.connect() as con:
        prepare(con, share)
        return db.rows(con, query("holdout/split"))


def held_out_ids(ws: Workspace, share: float) -> np.ndarray:
    """The image ids a share holds out, as an array of strings."""
    return np.array([r[0] for r in held_out_rows(ws, share)], dtype=object)


def labeled(ws: Workspace, checkpoint_id: str, limit: int | None = None) -> LabeledSplit:
    """The images a checkpoint was trained without, as a labeled split (empty when none were)."""
    from plabel.evaluate import as_split

    with ws.connect() as con:
        share = share_of(con, checkpoint_id)
    return as_split(ws, held_out_rows(ws, share) if share else [], limit)
