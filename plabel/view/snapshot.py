"""The workspace as its last commit left it, kept in memory between pages.

A grid page over millions of predictions must not join the round's selection, manifest and
duplicates again for every filter and page turn. A snapshot is one DuckDB connection (the
workspace's views) holding each round's decisions as a table, made the first time a page asks
for the round, and the slow summaries the pages show (the overview's round_summary). It is
replaced when the files of the tables it was made from change (a commit of another plabel
command: the next page sees it), and it is never written back: the tables stay read-only.
Reviews are read at every page (they are small, and the person reviewing expects to see them).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import duckdb

from plabel import db
from plabel.queries import query
from plabel.workspace import Workspace

T = TypeVar("T")
DECIDED_FROM = ("predictions", "selection_classes", "manifests", "duplicates")  # what a decision reads


def signature(ws: Workspace) -> tuple[Any, ...]:
    """Each table's files with their sizes and modification times: a commit changes it."""
    out = []
    for name in sorted(os.listdir(ws.tables_dir)):
        for folder, _, files in os.walk(ws.tables_dir / name):
            for f in files:
                st = os.stat(os.path.join(folder, f))
                out.append((name, folder, f, st.st_size, st.st_mtime_ns))
    return tuple(sorted(out))


def decided_part(sig: tuple[Any, ...]) -> tuple[Any, ...]:
    """The part of a signature that the decisions are made from."""
    return tuple(e for e in sig if e[0] in DECIDED_FROM)


class Snapshot:
    def __init__(self, ws: Workspace, sig: tuple[Any, ...]) -> None:
        self.ws, self.everything = ws, sig  # the files as they were before the connection opened
        self.con = ws.connect()
        db.define(self.con, [query("view/decisions"), query("view/decided"), query("view/decided_now"),
                             query("images/first_rows")])
        self.rounds: set[int] = set()
        self.memo: dict[str, Any] = {}

    def decide(self, rounds: list[int]) -> None:
        """Make sure these rounds' decisions are in the snapshot (the caller holds the lock)."""
        for r in sorted(set(rounds) - self.rounds):
            db.execute(self.con, query("view/decide_round"), {"round": r})
            self.rounds.add(r)

    def remembered(self, key: str, make: Callable[[], T]) -> T:
        """A summary made once per commit of the tables."""
        if key not in self.memo:
            self.memo[key] = make()
        return cast(T, self.memo[key])


class Snapshots:
    """The current snapshot of one workspace, replaced when its tables change."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._current: Snapshot | None = None
        self._lock = threading.Lock()

    @contextmanager
    def use(self, rounds: Sequence[int] = ()) -> Iterator[tuple[Snapshot, duckdb.DuckDBPyConnection]]:
        """The current snapshot with `rounds` decided, and its connection, held for the block
        (one page at a time: a DuckDB connection serves one query at a time)."""
        with self._lock:
            snap, now = self._current, signature(self.ws)
            if snap is None or decided_part(snap.everything) != decided_part(now):
                if snap is not None:
                    snap.con.close()
                snap = self._current = Snapshot(self.ws, now)
            elif snap.everything != now:
                # reviews, evals or checkpoints changed: the views are made again and the summaries
                # go; the decisions stay
                self.ws.refresh_views(snap.con)
                snap.memo.clear()
                snap.everything = now
            snap.decide(list(rounds))
            yield snap, snap.con
