"""plabel under torchrun: real processes, gloo on the CPU, two ranks (and two "nodes")."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from plabel.sampling import MixedPlan, rank_share
from plabel.workspace import open_workspace

KILL = Path(__file__).with_name("dist_kill.py")
TIMEOUT = 300


def torchrun(*args, nproc: int = 2, script: list | None = None, env: dict | None = None,
             nodes: tuple[int, int, int] | None = None, wait: bool = True):
    """`python -m torch.distributed.run ... -m plabel ARGS` (or a script); nodes = (count, rank, port)."""
    launch = ["--standalone"] if nodes is None else [
        "--nnodes", str(nodes[0]), "--node-rank", str(nodes[1]), "--master-addr", "127.0.0.1",
        "--master-port", str(nodes[2])]
    cmd = [sys.executable, "-m", "torch.distributed.run", *launch, "--nproc-per-node", str(nproc),
           *(script or ["-m", "plabel"]), *[str(a) for a in args]]
    full_env = dict(os.environ, OMP_NUM_THREADS="1", **(env or {}))
    if not wait:
        return subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=TIMEOUT)


def plabel(*args):
    """The one-process reference, in this process (no interpreter start) and on one thread, as
    each torchrun rank runs: the same float sums, so the same numbers. .returncode/.stdout/.stderr."""
    import torch

    from tests.conftest import invoke

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        r = invoke(CliRunner(), *args)
    finally:
        torch.set_num_threads(threads)
    r.returncode = r.exit_code
    return r


INFER = ("infer", "--round", "0", "--split", "val", "--split", "test", "--embeddings", "--batch-size", "16",
         "--rows-per-file", "16", "--workers", "0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist_folders):
    """A workspace with train/val/test/unlabeled digits and a round-0 test_resnet teacher."""
    from plabel.train import TrainOptions, train
    from tests.test_train import FAST, make_ws

    ws = make_ws(tmp_path_factory.mktemp("dist") / "ws", mnist_folders)
    train(ws, TrainOptions(round=0, epochs=4, **FAST))
    return ws


@pytest.fixture(scope="module")
def one_process(trained, tmp_path_factory):
    """The trained workspace after a one-process INFER: what every world size must give."""
    ws = open_workspace(shutil.copytree(trained.root, tmp_path_factory.mktemp("one") / "ws"))
    ws.sync_catalog()
    r = plabel(*INFER, "-w", ws.root)
    assert r.returncode == 0, r.stderr
    return ws


@pytest.fixture
def copies(trained, tmp_path):
    def make(name: str):
        ws = open_workspace(shutil.copytree(trained.root, tmp_path / name))
        ws.sync_catalog()
        return ws
    return make


PRED = ("SELECT image_id, split, class_id, confidence, margin, entropy, index, prob FROM predictions "
        "WHERE round = 0 ORDER BY image_id")


def assert_same_predictions(a, b) -> None:
    ra, rb = a.rows(PRED), b.rows(PRED)
    assert len(ra) == len(rb) > 0
    assert [r[:3] for r in ra] == [r[:3] for r in rb]  # same images, splits and classes
    for x, y in zip(ra, rb, strict=True):
        assert np.allclose(x[3:6], y[3:6], atol=1e-5) and x[6] == y[6] and np.allclose(x[7], y[7], atol=1e-5)



def test_a_killed_rank_then_a_rerun_predicts_every_image_once(copies, one_process):
    one, killed = one_process, copies("killed")
    env = {"PLABEL_TEST_KILL_RANK": "1", "PLABEL_TEST_KILL_AT": "3"}  # rank 1 dies after 2 of its parts
    r = torchrun(*INFER, "-w", killed.root, script=[str(KILL)], env=env)
    assert r.returncode != 0
    assert not killed.round_dir("predictions", 0).exists()  # nothing committed
    staged = list(killed.staging_dir("predictions", 0).glob("*.parquet"))
    assert len(staged) >= 2  # what rank 1 (and rank 0) finished survives
    r = plabel(*INFER, "-w", killed.root)  # another world size: one process
    assert r.returncode == 0, r.stderr
    assert_same_predictions(one, killed)
    assert killed.rows("SELECT count(*) = count(DISTINCT image_id) FROM predictions")[0][0]


def test_eval_reduces_over_ranks(copies):
    one, two = copies("one"), copies("two")
    a = json.loads(plabel("eval", "--split", "test", "--json", "-w", one.root).stdout)
    r = torchrun("eval", "--split", "test", "--json", "-w", two.root)
    assert r.returncode == 0, r.stderr[-3000:]
    b = json.loads(r.stdout)  # rank 0 alone prints
    assert (b["n"], b["top1"], b["confusion"]) == (a["n"], a["top1"], a["confusion"])
    assert two.rows("SELECT count(DISTINCT eval_id) FROM evals")[0][0] == 1


@pytest.mark.slow  # 8 s: two torchrun ranks; the other rank tests keep eval and infer in the fast suite
def test_robustness_counts_are_summed_over_ranks(copies):
    """Each image's corruption is seeded by the image, not the rank: 2 ranks measure what 1 does."""
    one, two = copies("one"), copies("two")
    args = ("eval", "--robustness", "corruptions,flips", "--corruptions", "gaussian_noise", "--severities", "3",
            "--perturbations", "translate", "--limit", "41", "--workers", "0", "--json")
    a = json.loads(plabel(*args, "-w", one.root).stdout)
    r = torchrun(*args, "-w", two.root)
    assert r.returncode == 0, r.stderr[-3000:]
    b = json.loads(r.stdout)
    assert b["n"] == a["n"] == 41  # odd: the ranks hold 21 and 20
    assert b["corruption_errors"] == a["corruption_errors"] and b["clean_error"] == a["clean_error"]
    assert b["flip_rates"] == pytest.approx(a["flip_rates"])
    assert two.rows("SELECT count(DISTINCT eval_id) FROM evals")[0][0] == 1


def test_rank_shares_draw_each_row_its_copies_in_total():
    rng = np.random.default_rng(0)
    plan = MixedPlan(rng.integers(1, 4, 37), rng.integers(0, 3, 101), lab_bs=7, unl_bs=19)
    for world in (1, 2, 3):
        drawn = np.zeros(37 + 101, np.int64)
        for batch in plan.batches(seed=0, epoch=0):
            parts = [rank_share(list(batch), 7, r, world) for r in range(world)]
            assert sum(n for _, n in parts) == 7 and sum(len(p) for p, _ in parts) == 26
            for p, _ in parts:
                np.add.at(drawn, p, 1)
        steps = plan.steps
        # one pass over the labeled stream: steps x 7 draws, each row its copies times per pass
        full_passes = steps * 7 // int(plan.lab_copies.sum())
        assert (drawn[:37] >= plan.lab_copies * full_passes).all()
        assert drawn[:37].sum() == steps * 7 and drawn[37:].sum() == steps * 19


TRAIN = ("train", "--round", "0", "--model", "test_vit", "--img-size", "32", "--epochs", "1", "--batch-size", "20",
         "--workers", "0", "--lr", "1e-3", "--hflip", "0", "--crop-scale", "0.5", "--ema-decay", "0.9", "--json")


def test_ddp_two_ranks_of_half_batches_train_what_one_rank_does(copies):
    """test_vit has no BatchNorm, round 0 no dropout, and augmentation is seeded per draw: the
    only difference left is the order of floating-point sums (tolerance 1e-4)."""
    from safetensors.torch import load_file

    one, two = copies("one"), copies("two")
    a = json.loads(plabel(*TRAIN, "-w", one.root).stdout)
    r = torchrun(*TRAIN, "-w", two.root)
    assert r.returncode == 0, r.stderr[-3000:]
    b = json.loads(r.stdout)
    for weights in ("model.safetensors", "ema.safetensors"):  # the EMA follows the same steps
        wa = load_file(str(one.root / "checkpoints" / a["checkpoint_id"] / weights))
        wb = load_file(str(two.root / "checkpoints" / b["checkpoint_id"] / weights))
        assert max(float((wa[k] - wb[k]).abs().max()) for k in wa) < 1e-4
    assert b["history"][0]["loss"] == pytest.approx(a["history"][0]["loss"], abs=1e-5)
    # one checkpoint and one runs row per epoch, written by rank 0 alone
    assert two.rows("SELECT count(*) FROM checkpoints WHERE model = 'test_vit'")[0][0] == 1
    assert two.rows("SELECT count(*) FROM runs WHERE run_id = ?", [b["run_id"]])[0][0] == 1
    assert b["run_id"] == a["run_id"]  # the same run, whatever the world size


@pytest.mark.slow
def test_the_loop_under_torchrun_ends_with_the_tables_of_one_process(copies):
    """Training on 2 ranks differs from 1 in the order of floating-point sums and in BatchNorm
    statistics (per rank), so the student is not bit-identical; the teacher's predictions are
    (inference is exact), and so are the selection and the manifest built from them."""
    one, two = copies("one"), copies("two")
    # the teacher's options are the fixture's: both runs find it trained and go on from it
    run = ("run", "--rounds", "1", "--teacher-model", "test_resnet", "--img-size", "32", "--epochs", "4",
           "--threshold", "0.1", "--set", "train.batch_size=32", "--set", "train.workers=0",
           "--set", "train.hflip=0.0", "--set", "train.crop_scale=0.5", "--set", "infer.workers=0",
           "--set", "train.lr=3e-3", "--set", "student.epochs=1", "--json")
    a = json.loads(plabel(*run, "-w", one.root).stdout)
    r = torchrun(*run, "-w", two.root)
    assert r.returncode == 0, r.stderr[-3000:]
    b = json.loads(r.stdout)
    assert [s["step"] for s in b["steps"]] == [s["step"] for s in a["steps"]]
    assert b["steps"][0]["done_before"] and a["steps"][0]["done_before"]  # the fixture's teacher
    for t, k in (("checkpoints", "checkpoint_id"), ("selections", "selection_id"), ("evals", "eval_id"),
                 ("predictions", "image_id"), ("runs", "run_id")):
        q = f"SELECT count(DISTINCT {k}) FROM {t}"  # each written once, by rank 0
        assert two.rows(q) == one.rows(q), t
    assert two.rows("SELECT count(*) FROM predictions") == one.rows("SELECT count(*) FROM predictions")
    # the teacher: the same weights up to float sums, so the same pseudo labels (or within a few)
    sel = "SELECT n_pseudo, n_labeled FROM selections"
    (na, la), (nb, lb) = one.rows(sel)[0], two.rows(sel)[0]
    assert la == lb and abs(na - nb) <= max(2, na // 50)
    assert a["rounds"][1]["teacher_test_top1"] == pytest.approx(b["rounds"][1]["teacher_test_top1"], abs=10)


def test_two_ranks_on_two_nodes_predict_what_one_process_does(copies, one_process):
    """Two torchrun launches (--nnodes 2 on 127.0.0.1), one rank each: rows, classes,
    probabilities and embeddings as one process gives them, every image once."""
    one, two = one_process, copies("two")
    port = free_port()
    nodes = [torchrun(*INFER, "-w", two.root, nproc=1, nodes=(2, rank, port), wait=False) for rank in (0, 1)]
    outs = [p.communicate(timeout=TIMEOUT) for p in nodes]
    assert [p.returncode for p in nodes] == [0, 0], [o[1][-2000:] for o in outs]
    assert_same_predictions(one, two)
    q = "SELECT count(*), count(DISTINCT image_id) FROM {}"
    for t in ("predictions", "embeddings"):
        assert two.rows(q.format(t)) == one.rows(q.format(t)) == [(400, 400)]  # every image once
    emb = "SELECT image_id, embedding FROM embeddings ORDER BY image_id"
    assert all(np.allclose(x[1], y[1], atol=1e-5) for x, y in zip(one.rows(emb), two.rows(emb), strict=True))
    said = [o[1].count("Round 0: 400 images predicted") for o in outs]
    assert said == [1, 0]  # rank 0 alone speaks
