"""SIGKILL, then re-run at once (no sleep): the lock dies with its owner, whatever it forked."""
import os
import shutil
import signal
import subprocess
import sys

import pytest

from plabel.lock import write_lock
from tests.crashes import killed, run_plabel

# Holds the lock, forks a child that outlives it (as DataLoader workers do for a few seconds).
HOLDER_WITH_CHILD = """
import os, sys, time
from pathlib import Path
from plabel.lock import write_lock
with write_lock(Path(sys.argv[1]), "holder"):
    if os.fork() == 0:
        time.sleep(30)
        os._exit(0)
    print("locked", flush=True)
    time.sleep(60)
"""


def test_the_lock_is_free_the_moment_its_owner_dies(ws):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER_WITH_CHILD, str(ws.root)], stdout=subprocess.PIPE,
                              text=True, start_new_session=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        holder.kill()
        holder.wait()
        with write_lock(ws.root, "next", timeout=0) as stale:  # the child is still alive
            assert stale is not None and stale["pid"] == holder.pid
    finally:
        os.killpg(holder.pid, signal.SIGKILL)


@pytest.mark.slow  # 15 s: a kill inside infer's DataLoader loop, then a full rerun
def test_killed_infer_with_workers_reruns_at_once(ws):
    shutil.rmtree(ws.round_dir("predictions", 0))
    args = ["infer", "--round", "0", "--workers", "2", "--batch-size", "8", "--rows-per-file", "16", "-w", ws.root]
    r = run_plabel(args, kill_at=4)  # inside the loop: DataLoader workers are alive
    assert killed(r), r.stderr
    r = run_plabel(args)  # at once: PLABEL_LOCK_TIMEOUT is 0, so a held lock would fail it
    assert r.returncode == 0, r.stderr
    assert "took over the workspace lock" in r.stderr
    assert ws.rows("SELECT count(*), count(DISTINCT image_id) FROM predictions WHERE round = 0") == [(200, 200)]


@pytest.mark.slow  # kills at every write; the fast suite keeps test_crash's subset
def test_killed_dedup_and_calibrate_rerun_at_once(ws):
    """dedup commits its thresholds, then its duplicates (what marks it done); calibrate one row."""
    args = ["dedup", "--round", "0", "-w", ws.root]
    r = run_plabel(args, kill_at=3)  # points: publish, commit (thresholds), publish (duplicates): killed there
    assert killed(r), r.stderr
    assert ws.has_round("dedup_thresholds", 0) and not ws.has_round("duplicates", 0)
    r = run_plabel(args)
    assert r.returncode == 0, r.stderr
    assert ws.rows("SELECT count(*) FROM dedup_thresholds WHERE round = 0")[0][0] == 2  # replaced, not added
    assert ws.has_round("duplicates", 0)
    args = ["calibrate", "-w", ws.root]
    assert killed(run_plabel(args, kill_at=1))
    assert run_plabel(args).returncode == 0
    assert ws.rows("SELECT count(*) FROM calibrations")[0][0] == 1


@pytest.mark.slow
def test_killed_dedup_before_any_model_reruns_at_once(ws):
    """The model-free pass (round 0 without predictions) writes through the same commits."""
    shutil.rmtree(ws.round_dir("predictions", 0))
    args = ["dedup", "-w", ws.root]  # no --round, nothing predicted: round 0, pixels only
    r = run_plabel(args, kill_at=3)
    assert killed(r), r.stderr
    assert ws.has_round("dedup_thresholds", 0) and not ws.has_round("duplicates", 0)
    r = run_plabel(args)
    assert r.returncode == 0 and "round 0, pixels only" in r.stderr, r.stderr
    assert ws.rows("SELECT count(*) FROM dedup_thresholds WHERE round = 0")[0][0] == 2
    assert ws.has_round("duplicates", 0)


def test_a_writer_killed_while_refreshing_the_catalog_leaves_a_usable_one(ws, tmp_path):
    """Every writer ends by rebuilding a stale catalog.duckdb: killed at each of its steps, the
    catalog is the old one or the new one, never half of one, and the next writer rebuilds it."""
    import duckdb

    from tests.crashes import count_points

    stale = shutil.copytree(ws.root, tmp_path / "stale")  # its catalog names the old folder
    points = count_points(["init", stale], tmp_path)
    assert points >= 1
    for kill_at in range(1, points + 1):
        root = shutil.copytree(ws.root, tmp_path / f"k{kill_at}")
        r = run_plabel(["init", root], kill_at=kill_at)
        assert killed(r), (kill_at, r.stderr)
        con = duckdb.connect(str(root / "catalog.duckdb"), read_only=True)
        try:
            assert con.execute("SELECT count(*) FROM images").fetchone()[0] > 0
        finally:
            con.close()
        assert run_plabel(["init", root]).returncode == 0
        con = duckdb.connect(str(root / "catalog.duckdb"), read_only=True)
        try:
            assert con.execute("SELECT count(*) FROM images").fetchone()[0] > 0
        finally:
            con.close()


def test_init_with_classes_killed_after_its_config_reruns_to_the_class_list(tmp_path):
    """plabel.toml is written first, the classes table second: the same init again finishes it."""
    from plabel.workspace import open_workspace

    for kill_at in (1, 2):  # publishing plabel.toml, then the classes
        root = tmp_path / f"k{kill_at}"
        assert killed(run_plabel(["init", root, "--classes", "cat,dog"], kill_at=kill_at))
        r = run_plabel(["init", root, "--classes", "cat,dog"])
        assert r.returncode == 0, r.stderr
        assert open_workspace(root).class_names() == ["cat", "dog"]


@pytest.mark.slow  # kills at every write; the fast suite keeps test_crash's subset
def test_import_predictions_and_review_import_killed_at_each_point_rerun_at_once(ws, tmp_path):
    """Both write a staged round (or one file) and commit it last: killed anywhere, the rerun at
    once ends with every row once, and the external teacher recorded once."""
    import json

    import numpy as np
    import pandas as pd

    from plabel.review import ReviewExportOptions, export_tasks
    from plabel.workspace import open_workspace
    from tests.crashes import count_points

    ids = [i for (i,) in ws.rows("SELECT image_id FROM images WHERE split = 'unlabeled' ORDER BY image_id")]
    probs = np.random.default_rng(0).dirichlet(np.ones(10), len(ids))
    pd.DataFrame({"image_id": ids, "probs": list(probs)}).to_parquet(tmp_path / "p.parquet")
    export_tasks(ws, ReviewExportOptions(round=0, query="SELECT image_id FROM images WHERE split = 'unlabeled' "
                                         "ORDER BY image_id LIMIT 5", out=str(tmp_path / "t.json")))
    tasks = json.loads((tmp_path / "t.json").read_text())
    label = [{"type": "choices", "from_name": "label", "value": {"choices": ["3"]}}]
    (tmp_path / "e.json").write_text(json.dumps([
        {"id": n + 1, "data": t["data"], "annotations": [{"id": 50 + n, "completed_by": 1, "was_cancelled": False,
                                                          "created_at": "2026-11-30T10:00:00Z", "result": label}]}
        for n, t in enumerate(tasks)]))
    shutil.rmtree(ws.round_dir("predictions", 0))
    base = shutil.copytree(ws.root, tmp_path / "base")
    commands = [["import-predictions", tmp_path / "p.parquet", "--round", "0", "--model-name", "m"],
                ["review", "import", tmp_path / "e.json"]]
    for n, args in enumerate(commands):
        points = count_points([*args, "-w", shutil.copytree(base, tmp_path / f"count{n}")], tmp_path)
        assert points >= 1
        for kill_at in range(1, points + 1):
            root = shutil.copytree(base, tmp_path / f"k{n}-{kill_at}")
            assert killed(run_plabel([*args, "-w", root], kill_at=kill_at)), (args[0], kill_at)
            r = run_plabel([*args, "-w", root])
            assert r.returncode == 0, (args[0], kill_at, r.stderr)
            again = open_workspace(root)
            if n == 0:
                assert again.rows("SELECT count(*), count(DISTINCT image_id) FROM predictions") == [(len(ids),) * 2]
                assert again.rows("SELECT count(*) FROM checkpoints WHERE kind = 'external'") == [(1,)]
            else:
                assert again.rows("SELECT count(*), count(DISTINCT image_id) FROM reviews") == [(5, 5)]
