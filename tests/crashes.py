"""Crash injection: run a plabel command in a subprocess that SIGKILLs itself at a chosen point.

The points are the moments files become visible: every `storage.publish` (a finished temporary
file about to be renamed into place) and every `storage.commit_dir` (a staging folder about to
be renamed). Killing at the k-th such call lands between any two steps of a command's writes,
which is where a crash can leave a workspace inconsistent if anything can. `count_points` runs a
command uninterrupted and counts them.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

RUNNER = r"""
import os, signal, sys
from plabel import storage
kill_at = int(os.environ.get("PLABEL_TEST_KILL_AT", "0"))
count_file = os.environ.get("PLABEL_TEST_COUNT_FILE")
calls = 0
def point(fn):
    def inner(*args, **kwargs):
        global calls
        calls += 1
        if count_file:
            with open(count_file, "a") as f:
                f.write("x")
        if calls == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return fn(*args, **kwargs)
    return inner
storage.publish = point(storage.publish)
storage.commit_dir = point(storage.commit_dir)
from plabel.cli import main
sys.argv = ["plabel", *sys.argv[1:]]
main()
"""


def run_plabel(
    args: list, kill_at: int = 0, count_file: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    env = dict(os.environ, PLABEL_TEST_KILL_AT=str(kill_at))
    if count_file is not None:
        env["PLABEL_TEST_COUNT_FILE"] = str(count_file)
    return subprocess.run(
        [sys.executable, "-c", RUNNER, *[str(a) for a in args]],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def count_points(args: list, scratch: Path) -> int:
    counter = scratch / "points.txt"
    counter.unlink(missing_ok=True)
    r = run_plabel(args, count_file=counter)
    assert r.returncode == 0, r.stderr
    return len(counter.read_text()) if counter.exists() else 0


def killed(r: subprocess.CompletedProcess) -> bool:
    return r.returncode == -signal.SIGKILL
