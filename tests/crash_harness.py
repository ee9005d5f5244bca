"""Crash-safety harness: SIGKILL plabel commands at seeded random points, re-run, compare.

For each command a base workspace is prepared, the command runs once uninterrupted (the
reference) and once more to count its kill points (every file or folder about to become
visible, see tests/crashes.py). Each trial copies the base, kills the command at a seeded random
point, checks the killed workspace (it opens, every table file matches its schema, no key is
duplicated), runs the command again at once (no sleep, PLABEL_LOCK_TIMEOUT unset: a lock still
held by the dead command's forked workers would fail it) and compares the result with the
reference.

    python -m tests.crash_harness --trials 10 [--commands ingest,infer,select,train,run] [--seed 0]

The test suite runs a fast subset (tests/test_crash.py); docs/reliability.md has the last
figures of the full run.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from plabel.datasets import load_mnist, write_split_folders
from plabel.ingest import IngestOptions, ingest
from plabel.run import RunConfig, write_default_config
from plabel.schema import tables
from plabel.workspace import Workspace, init_workspace, open_workspace
from tests.crashes import count_points, killed, run_plabel

TRAIN = ["--model", "test_resnet", "--img-size", "32", "--batch-size", "16", "--workers", "0", "--lr", "0.003",
         "--hflip", "0", "--crop-scale", "0.5"]
RUN_CONFIG = RunConfig(
    rounds=1, teacher_model="test_resnet", img_size=32, seed=1,
    train={"batch_size": 16, "workers": 0, "lr": 3e-3, "hflip": 0.0, "crop_scale": 0.5},
    teacher={"epochs": 2}, student={"epochs": 1}, infer={"splits": ["test"], "batch_size": 16},
    select={"threshold": 0.1, "per_class": 6},
)
UNIQUE_KEYS = {
    "images": ["image_id", "split"], "aliases": ["path"], "classes": ["class_id"],
    "predictions": ["round", "image_id"], "embeddings": ["round", "image_id"], "checkpoints": ["checkpoint_id"],
    "manifests": ["round", "image_id", "origin"], "selections": ["round"], "runs": ["run_id", "epoch"],
}


def q(ws: Workspace, sql: str) -> list[tuple]:
    return ws.rows(sql)


SNAPSHOTS = {
    "ingest": [
        "SELECT image_id, split, path, label, true_label, width, height FROM images ORDER BY ALL",
        "SELECT image_id, split, path FROM aliases ORDER BY ALL",
        "SELECT path, reason FROM rejects ORDER BY ALL",
        "SELECT class_id, name FROM classes ORDER BY ALL",
    ],
    "infer": [
        "SELECT round, image_id, class_id, confidence, prob FROM predictions ORDER BY ALL",
        "SELECT round, image_id, embedding FROM embeddings ORDER BY ALL",
    ],
    "select": [
        "SELECT selection_id, manifest_hash, n_pseudo, n_pseudo_copies FROM selections",
        "SELECT class_id, predicted, above_threshold, after_dedup, selected, copies FROM selection_classes "
        "ORDER BY ALL",
        "SELECT image_id, origin, target, copies FROM manifests ORDER BY ALL",
    ],
    "train": [
        "SELECT checkpoint_id, round, manifest_hash FROM checkpoints ORDER BY ALL",
        "SELECT run_id, epoch, step, loss FROM runs ORDER BY ALL",
    ],
    "run": [
        "SELECT round, checkpoint_id, parent_id, manifest_hash FROM checkpoints ORDER BY ALL",
        "SELECT round, selection_id, manifest_hash FROM selections ORDER BY ALL",
        "SELECT round, image_id, class_id, confidence FROM predictions ORDER BY ALL",
        "SELECT checkpoint_id, split, metric, value FROM evals WHERE metric IN ('top1', 'top5') ORDER BY ALL",
    ],
}


def snapshot(ws: Workspace, command: str) -> list:
    return [q(ws, sql) for sql in SNAPSHOTS[command]]


def check_consistent(ws: Workspace) -> None:
    """What must hold after a kill at any moment."""
    ws = open_workspace(ws.root)
    con = ws.connect()
    try:
        for name, schema in tables().items():
            con.execute(f'SELECT count(*) FROM "{name}"').fetchall()
            for f in ws.table_dir(name).rglob("*.parquet"):
                if ".staging" in f.parts:
                    continue
                assert pq.read_schema(f).remove_metadata() == schema.arrow_schema(), f"{f} does not match {name}"
        for name, keys in UNIQUE_KEYS.items():
            cols = ", ".join(keys)
            dup = con.execute(
                f'SELECT {cols}, count(*) FROM "{name}" GROUP BY ALL HAVING count(*) > 1 LIMIT 1'
            ).fetchall()
            assert not dup, f"{name}: duplicated key {dup}"
    finally:
        con.close()


@dataclass
class Setup:
    base: Path  # the workspace before the command
    args: list  # the command, without -w


def prepare(command: str, root: Path) -> Setup:
    """A base workspace for a command, built in-process (not what is being tested)."""
    from plabel.dedup import DedupOptions, dedup
    from plabel.infer import InferOptions, infer
    from plabel.train import TrainOptions, train

    x, y = load_mnist()
    folders = write_split_folders(root / "data", x, y, labeled_per_class=8, test_per_class=4, unlabeled_per_class=12)
    ws = init_workspace(root / "base")
    if command == "ingest":
        return Setup(
            ws.root, ["ingest", folders.unlabeled, "--split", "unlabeled", "--withheld-labels", "--workers", "1"]
        )
    ingest(ws, IngestOptions(source=folders.train, split="train", workers=1))
    ingest(ws, IngestOptions(source=folders.test, split="test", workers=1))
    ingest(ws, IngestOptions(source=folders.unlabeled, split="unlabeled", withheld_labels=True, workers=1))
    if command == "train":
        return Setup(ws.root, ["train", "--round", "0", "--epochs", "3", *TRAIN])
    if command == "run":
        write_default_config(ws, RUN_CONFIG)
        return Setup(ws.root, ["run"])
    train(
        ws,
        TrainOptions(
            round=0, model="test_resnet", img_size=32, batch_size=16, workers=0, epochs=2, hflip=0.0, crop_scale=0.5
        ),
    )
    if command == "infer":  # one DataLoader worker: killed while a forked child is alive, re-run at once
        return Setup(
            ws.root,
            [
                "infer",
                "--round",
                "0",
                "--batch-size",
                "8",
                "--rows-per-file",
                "16",
                "--workers",
                "1",
                "--embeddings",
                "--split",
                "test",
            ],
        )
    infer(ws, InferOptions(round=0, splits=("unlabeled", "test"), embeddings=True, workers=0))
    dedup(ws, DedupOptions(round=0))
    return Setup(
        ws.root,
        ["select", "--round", "0", "--threshold", "0.1", "--per-class", "5", "--balance", "copies", "--labels", "soft"],
    )


def trials(command: str, n: int, seed: int, scratch: Path) -> list[dict]:
    setup = prepare(command, scratch / command)
    reference = Path(shutil.copytree(setup.base, scratch / f"{command}-reference"))
    r = run_plabel([*setup.args, "-w", reference])
    assert r.returncode == 0, r.stderr
    expected = snapshot(open_workspace(reference), command)
    probe = Path(shutil.copytree(setup.base, scratch / f"{command}-probe"))
    points = count_points([*setup.args, "-w", probe], scratch)
    rng = random.Random(f"{command}-{seed}")
    out = []
    for trial in range(n):
        kill_at = rng.randint(1, points)
        ws_root = Path(shutil.copytree(setup.base, scratch / f"{command}-{trial}"))
        started = time.perf_counter()
        r = run_plabel([*setup.args, "-w", ws_root], kill_at=kill_at)
        outcome = {"command": command, "trial": trial, "kill_at": kill_at, "points": points, "killed": killed(r)}
        try:
            check_consistent(open_workspace(ws_root))
            outcome["consistent_after_kill"] = True
            again = run_plabel([*setup.args, "-w", ws_root])
            assert again.returncode == 0, again.stderr
            check_consistent(open_workspace(ws_root))
            outcome["same_as_uninterrupted"] = snapshot(open_workspace(ws_root), command) == expected
        except AssertionError as e:
            outcome["error"] = str(e)[:300]
        outcome["seconds"] = round(time.perf_counter() - started, 1)
        out.append(outcome)
        shutil.rmtree(ws_root, ignore_errors=True)
    return out


def ok(outcome: dict) -> bool:
    return outcome.get("killed") and outcome.get("consistent_after_kill") and outcome.get("same_as_uninterrupted")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--commands", default="ingest,infer,select,train,run")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for command in args.commands.split(","):
            results = trials(command, args.trials, args.seed, Path(tmp))
            for r in results:
                print(json.dumps(r), flush=True)
            good = sum(ok(r) for r in results)
            failures += len(results) - good
            print(
                json.dumps(
                    {
                        "command": command,
                        "trials": len(results),
                        "passed": good,
                        "points": results[0]["points"] if results else 0,
                    }
                ),
                flush=True,
            )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
