"""Shared bits of the benchmark scripts: timing, peak memory, result lines."""
from __future__ import annotations

import json
import os
import platform
import resource
import time
from contextlib import contextmanager


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


@contextmanager
def timer():
    box = {}
    start = time.perf_counter()
    try:
        yield box
    finally:
        box["seconds"] = time.perf_counter() - start


def peak_rss_children_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def report(name: str, **fields) -> dict:
    """One JSON line per measurement, so results can be pasted into docs/benchmarks.md; the line's data."""
    line = {"benchmark": name, **fields}
    print(json.dumps(line), flush=True)
    return line
