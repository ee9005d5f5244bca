"""The workspace's write lock: one writer at a time, readers never wait.

An advisory `flock` on `.plabel.lock`: the kernel releases it when the holder dies, so a lock
left by a killed process is free again at once; the holder's details (pid, command, start) are
written into the file so that a waiting writer can name the holder, and a stale record is
reported as cleared.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from plabel.errors import LockHeld

LOCK_FILE = ".plabel.lock"
_held: dict[tuple[Path, int], int] = {}  # lock depth per (workspace, pid): re-entrant, not inherited by forks


def _describe(info: dict) -> str:
    if not info:
        return "another process"
    return (
        f"pid {info.get('pid')} on {info.get('host')} ({info.get('command')}, "
        f"since {info.get('since')})"
    )


def read_holder(root: Path) -> dict:
    try:
        return json.loads((root / LOCK_FILE).read_text() or "{}")
    except (OSError, ValueError):
        return {}


@contextmanager
def write_lock(root: Path, command: str = "", timeout: float | None = None):
    """Hold the workspace's write lock; wait up to `timeout` seconds, then raise LockHeld.

    `timeout` defaults to the PLABEL_LOCK_TIMEOUT environment variable, else 0 (fail at once).
    Yields the record left by a holder that died without releasing (now cleared), or None.
    """
    root = root.resolve()
    key = (root, os.getpid())
    if _held.get(key):
        _held[key] += 1
        try:
            yield None
        finally:
            _held[key] -= 1
        return
    if timeout is None:
        timeout = float(os.environ.get("PLABEL_LOCK_TIMEOUT", "0"))
    path = root / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockHeld(
                        f"workspace {root} is being written by {_describe(read_holder(root))}; "
                        "wait for it to finish (or set PLABEL_LOCK_TIMEOUT=SECONDS to wait)"
                    ) from None
                time.sleep(0.2)
        # A clean release empties the record, so a record found under a free lock is stale.
        stale = read_holder(root) or None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command or " ".join(["plabel", *sys.argv[1:]]),
            "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        _held[key] = 1
        try:
            yield stale
        finally:
            _held.pop(key, None)
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
