"""`train --holdout`: a share of the labeled train images kept out of training and judged by."""
import json

import numpy as np
import pytest

from plabel.holdout import held_out_ids, held_out_rows


def _labeled_ws(tmp_path, per_class: dict[str, int], name="ws", reverse=False):
    from plabel.workspace import init_workspace
    from tests.tables import add_classes, add_images, iid

    ws = init_workspace(tmp_path / name)
    add_classes(ws, sorted(per_class))
    rows = [(iid(f"{c}{i}"), "train", c, None) for c, n in per_class.items() for i in range(n)]
    add_images(ws, rows[::-1] if reverse else rows)
    return ws


def test_a_share_of_each_class_is_held_out_by_content(tmp_path):
    ws = _labeled_ws(tmp_path, {"a": 10, "b": 20, "c": 2})
    held = held_out_rows(ws, 0.2)
    per_class = np.bincount([r[2] for r in held], minlength=3).tolist()
    assert per_class == [2, 4, 0]  # round(0.2 x 2) = 0: a class of two keeps both
    # the same images whatever order they were ingested in: content decides
    other = _labeled_ws(tmp_path, {"a": 10, "b": 20, "c": 2}, name="ws2", reverse=True)
    assert sorted(held_out_ids(other, 0.2)) == sorted(r[0] for r in held)
    # a larger share holds out a superset; every class keeps one image in training
    assert set(held_out_ids(ws, 0.2)) <= set(held_out_ids(ws, 0.5))
    assert np.bincount([r[2] for r in held_out_rows(ws, 0.99)], minlength=3).tolist() == [9, 19, 1]
    assert len(held_out_ids(ws, 0.0)) == 0


@pytest.fixture(scope="module")
def no_val_ws(tmp_path_factory, mnist_folders):
    """Labeled train and an unlabeled pool, no val split; a teacher trained with --holdout 0.25."""
    from plabel.ingest import IngestOptions, ingest
    from plabel.train import TrainOptions, train
    from plabel.workspace import init_workspace
    from tests.test_train import FAST

    ws = init_workspace(tmp_path_factory.mktemp("holdout") / "ws")
    ingest(ws, IngestOptions(source=mnist_folders.train, split="train", workers=1))
    ingest(ws, IngestOptions(source=mnist_folders.unlabeled, split="unlabeled", withheld_labels=True, workers=1))
    result = train(ws, TrainOptions(round=0, epochs=3, holdout=0.25, **FAST))
    return ws, result


def test_the_teacher_is_trained_without_its_held_out_images(no_val_ws):
    from plabel import checkpoints

    ws, result = no_val_ws
    ckpt = checkpoints.find(ws, result.checkpoint_id)
    held = held_out_ids(ws, 0.25)
    assert len(held) == 10 * 5  # 20 labeled per class
    assert ckpt.config["train"]["holdout"] == 0.25
    assert ckpt.config["manifest"]["labeled"] == 200 - 50
    assert any("50 labeled images held out" in n for n in result.notes)


def test_eval_split_holdout_scores_the_images_the_checkpoint_trained_without(no_val_ws, cli):
    ws, result = no_val_ws
    r = cli("eval", "--split", "holdout", "--checkpoint", result.checkpoint_id, "--json", "-w", ws.root)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["split"] == "holdout" and out["n"] == len(held_out_ids(ws, 0.25)) == 50
    row = ws.rows("SELECT value, n FROM evals WHERE split = 'holdout' AND metric = 'top1'")
    assert row == [(pytest.approx(out["top1"]), 50)]


def test_calibrate_and_select_auto_judge_by_the_held_out_images(no_val_ws, cli):
    ws, result = no_val_ws
    r = cli("infer", "--round", "0", "--workers", "0", "-w", ws.root)  # the pool only
    assert r.exit_code == 0, r.output
    r = cli("select", "--round", "0", "--threshold", "auto", "-w", ws.root)
    assert r.exit_code == 2 and "--holdout" in r.stderr and "--split train" in r.stderr, r.output
    r = cli("calibrate", "--split", "holdout", "--json", "-w", ws.root)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["images"] == 50
    r = cli("infer", "--round", "0", "--split", "train", "--overwrite", "--workers", "0", "-w", ws.root)
    assert r.exit_code == 0, r.output
    r = cli("select", "--round", "0", "--what-if", "--json", "-w", ws.root)
    assert r.exit_code == 0, r.output
    lowest = [x for x in json.loads(r.stdout) if x["threshold"] == 0.05]
    # the evidence is the 50 held-out images, not the 150 the teacher was trained on
    assert sum(x["val_images"] for x in lowest) == 50
    r = cli("select", "--round", "0", "--threshold", "auto", "--target-precision", "0.6", "--json", "-w", ws.root)
    assert r.exit_code == 0, r.output
    chosen = json.loads(r.stdout)["classes"]
    assert sum(c["val_support"] for c in chosen if c["threshold_source"] == "class") <= 50


def test_a_student_inherits_the_holdout(no_val_ws):
    from plabel import checkpoints
    from plabel.selection import SelectOptions, select
    from plabel.train import TrainOptions, train
    from tests.test_train import FAST

    ws, _ = no_val_ws
    select(ws, SelectOptions(round=0, threshold=0.3, overwrite=True))
    fast = {k: v for k, v in FAST.items() if k not in ("model", "img_size", "hflip", "crop_scale")}
    student = train(ws, TrainOptions(round=1, epochs=1, **fast))
    ckpt = checkpoints.find(ws, student.checkpoint_id)
    assert ckpt.config["train"]["holdout"] == 0.25
    assert ckpt.config["manifest"]["labeled"] == 150  # the selection's manifest has 200: 50 are dropped


def test_run_predicts_the_held_out_images_when_select_is_auto():
    from plabel.run import RunConfig

    auto = RunConfig(teacher={"holdout": 0.2}, select={"threshold": "auto"})
    assert "train" in auto.infer_options(0).splits and "train" in auto.infer_options(2).splits  # students inherit
    assert "train" not in RunConfig(teacher={"holdout": 0.2}).infer_options(0).splits  # 0.3: no evidence needed
    assert "train" not in RunConfig(select={"threshold": "auto"}).infer_options(0).splits
