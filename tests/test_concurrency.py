"""One writer at a time; readers work during a write and never see half a round."""
import json
import shutil
import subprocess
import sys
import time

import pytest

from plabel.lock import read_holder
from plabel.train import TrainOptions, train
from plabel.workspace import open_workspace
from tests.test_train import FAST, make_ws


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist_folders):
    ws = make_ws(tmp_path_factory.mktemp("conc") / "ws", mnist_folders)
    train(ws, TrainOptions(round=0, epochs=1, **FAST))
    return ws


def start_infer(ws):
    # small batches and part files: a long write with many intermediate states
    return subprocess.Popen([sys.executable, "-m", "plabel.cli", "infer", "--round", "0", "--batch-size", "4",
                             "--rows-per-file", "4", "--workers", "0", "--embeddings", "--split", "test", "-w",
                             str(ws.root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_readers_never_see_half_a_round(trained, tmp_path, cli):
    ws = open_workspace(shutil.copytree(trained.root, tmp_path / "ws"))
    writer = start_infer(ws)
    seen = set()
    statuses = []
    while writer.poll() is None:
        con = ws.connect()
        seen.add(con.execute("SELECT count(*) FROM predictions WHERE round = 0").fetchall()[0][0])
        seen.add(con.execute("SELECT count(*) FROM embeddings WHERE round = 0").fetchall()[0][0] * 1000)
        con.close()
        if len(statuses) < 3:
            statuses.append(cli("status", "-w", ws.root, "--json").exit_code)
    assert writer.returncode == 0, writer.stderr.read()
    con = ws.connect()
    final = con.execute("SELECT count(*) FROM predictions WHERE round = 0").fetchall()[0][0]
    con.close()
    assert final == 300
    # predictions: none or all; embeddings (scaled by 1000): none or all
    assert seen <= {0, 300, 300_000}, seen
    assert statuses and all(code == 0 for code in statuses)


def test_a_second_writer_is_told_who_holds_the_lock(trained, tmp_path, cli, image_folder):
    ws = open_workspace(shutil.copytree(trained.root, tmp_path / "ws"))
    writer = start_infer(ws)
    deadline = time.time() + 60
    while not read_holder(ws.root) and time.time() < deadline:
        time.sleep(0.02)
    holder = read_holder(ws.root)
    r = cli("ingest", image_folder, "--split", "unlabeled", "-w", ws.root)
    writer.wait()
    if not holder or writer.returncode != 0:
        pytest.fail(f"the writer did not hold the lock: {holder} {writer.stderr.read()}")
    assert r.exit_code == 1
    assert f"pid {holder['pid']}" in r.stderr and "plabel infer" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert json.loads(cli("status", "-w", ws.root, "--json").stdout)["images"] == 600
