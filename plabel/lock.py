"""The workspace's write lock: one writer at a time, readers never wait.

A POSIX record lock (`fcntl.lockf`) on `.plabel.lock`. Unlike `flock`, a record lock belongs to
the process that took it, not to the open file: forked children (DataLoader workers, which
outlive a SIGKILLed parent by a few seconds) never hold it, and the kernel frees it the moment
its owner dies, so a re-run right after a kill gets the lock at once. The file is opened with
O_NOFOLLOW (a link planted in an untrusted workspace is refused, never truncated), and only
through the one descriptor: closing any other descriptor of the file would drop a record lock.
The holder's details (pid, command, start) are written into the file so that a waiting writer
can name the holder, and a record left by a holder that died is reported as taken over.
"""
from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from plabel.errors import LockHeld, UsageError

log = logging.getLogger("plabel")
LOCK_FILE = ".plabel.lock"
_held: dict[tuple[Path, int], int] = {}  # lock depth per (workspace, pid): re-entrant, not inherited by forks


def _describe(info: dict[str, Any]) -> str:
    if not info:
        return "another process"
    return (
        f"pid {info.get('pid')} on {info.get('host')} ({info.get('command')}, "
        f"since {info.get('since')})"
    )


def read_holder(root: Path) -> dict[str, Any]:
    """The record of the lock's holder (from another process: never call it while holding)."""
    try:
        fd = _open(root / LOCK_FILE, os.O_RDONLY)
    except (OSError, UsageError):
        return {}
    try:
        return _record(fd)
    finally:
        os.close(fd)


def _record(fd: int) -> dict[str, Any]:
    try:
        record: dict[str, Any] = json.loads(os.pread(fd, 1 << 16, 0) or b"{}")
        return record
    except ValueError:
        return {}


def _open(path: Path, flags: int) -> int:
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)  # a FIFO never blocks
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UsageError(f"{path} is a symbolic link; plabel refuses to follow it (remove it)") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise UsageError(f"{path} is not a plain file; plabel refuses to use it (remove it)")
    if st.st_nlink > 1:  # a hard link to another file: writing the record would truncate that file
        os.close(fd)
        raise UsageError(f"{path} has {st.st_nlink} names (a hard link); plabel refuses to write it (remove it)")
    return fd


def _acquire(fd: int, root: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            if time.monotonic() >= deadline:
                raise LockHeld(
                    f"workspace {root} is being written by {_describe(_record(fd))}; "
                    "wait for it to finish (or set PLABEL_LOCK_TIMEOUT=SECONDS to wait)"
                ) from None
            time.sleep(0.2)


@contextmanager
def write_lock(root: Path, command: str = "", timeout: float | None = None) -> Iterator[dict[str, Any] | None]:
    """Hold the workspace's write lock; wait up to `timeout` seconds, then raise LockHeld.

    `timeout` defaults to the PLABEL_LOCK_TIMEOUT environment variable, else 0 (fail at once).
    Yields the record left by a holder that died without releasing (now taken over), or None.
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
    fd = _open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT)
    try:
        _acquire(fd, root, timeout)
        # A clean release empties the record, so a record found under a free lock is stale.
        stale = _record(fd) or None
        if stale:
            log.warning("took over the workspace lock of %s, which ended without releasing it", _describe(stale))
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
    finally:
        os.close(fd)  # releases the record lock
