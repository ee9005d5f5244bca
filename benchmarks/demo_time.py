"""How long `plabel demo` takes, quiet and beside a busy machine, in the same run.

Each run is `plabel demo DIR` in a fresh folder and its own process. `loaded` runs it while the
fast test suite (`python -m pytest -q -m "not slow"`) runs beside it, as on a developer's machine
that is also testing; the suite is stopped when the demo ends. The ratio loaded / quiet says how
much a busy 2-core machine stretches the demo (the README quotes both).

    python benchmarks/demo_time.py [--seed 0] [--modes quiet,loaded]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def run_demo(seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        before = os.times()
        started = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "plabel", "demo", str(Path(tmp) / "demo"), "--seed", str(seed),
                            "--json"], capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - started
        out = json.loads(r.stdout)
        after = os.times()  # the demo's own CPU time (the suite beside it is not waited for yet)
        cpu = after.children_user + after.children_system - before.children_user - before.children_system
        return {"seconds": round(seconds, 1), "cpu_seconds": round(cpu), "teacher": out["teacher_test_top1"],
                "student": out["student_test_top1"]}


def loaded(seed: int) -> dict:
    suite = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-m", "not slow", "-p", "no:cacheprovider"],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        return run_demo(seed)
    finally:
        os.killpg(suite.pid, signal.SIGKILL)
        suite.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--modes", default="quiet,loaded")
    args = ap.parse_args()
    results = {}
    for mode in args.modes.split(","):
        results[mode] = run_demo(args.seed) if mode == "quiet" else loaded(args.seed)
        report("demo_time", mode=mode, seed=args.seed, machine=machine(), **results[mode])
    if "quiet" in results and "loaded" in results:
        report("demo_time", ratio_loaded_over_quiet=round(results["loaded"]["seconds"] / results["quiet"]["seconds"],
                                                          2))


if __name__ == "__main__":
    main()
