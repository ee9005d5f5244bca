"""Bad parameters: exit code 2, one clear line on stderr, nothing written."""
import shutil

import pytest

from plabel import checkpoints
from plabel.infer import InferOptions, infer
from plabel.ingest import IngestOptions, ingest
from plabel.manifest import labeled_manifest
from plabel.train import TrainOptions, train
from plabel.workspace import init_workspace, open_workspace
from tests.helpers import tree_digest, write_pngs
from tests.test_train import FAST, make_ws


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist_folders):
    ws = make_ws(tmp_path_factory.mktemp("bad") / "ws", mnist_folders)
    r = train(ws, TrainOptions(round=0, epochs=1, **FAST))
    infer(ws, InferOptions(round=0, workers=0))
    return ws, r.checkpoint_id


@pytest.fixture
def ws(trained, tmp_path):
    ws = open_workspace(shutil.copytree(trained[0].root, tmp_path / "ws"))
    ws.sync_catalog()  # a copied workspace's catalog is rewritten once, by design
    return ws


CASES = [
    (["select", "--round", "0", "--threshold", "1.5"], "--threshold must be in [0, 1]"),
    (["select", "--round", "0", "--threshold", "-0.2"], "--threshold must be in [0, 1]"),
    (["select", "--round", "0", "--per-class", "-3"], "--per-class"),
    (["select", "--round", "0", "--per-class", "many"], "--per-class"),
    (["select", "--round", "7"], "round 7 has no predictions"),
    (["dedup", "--round", "7"], "round 7 has no predictions"),
    (["infer", "--round", "7"], "no checkpoint in round 7"),
    (["infer", "--round", "0", "--checkpoint", "deadbeef", "--overwrite"], "no checkpoint 'deadbeef'"),
    (["eval", "--checkpoint", "deadbeef"], "no checkpoint 'deadbeef'"),
    (["eval", "--split", "holdout"], "held no labeled images out of training (train --holdout)"),
    (["eval", "--split", "pool"], "--split must be one of val, test, train, holdout"),
    (["train", "--round", "0", "--model", "resnet_does_not_exist"], "unknown timm model"),
    (["train", "--round", "5"], "no checkpoint in round 4"),
    (["train", "--round", "0", "--model", "test_resnet", "--epochs", "0"], "--epochs must be a count >= 1 or auto"),
    (["train", "--round", "0", "--model", "test_resnet", "--epochs", "often"], "--epochs must be a count >= 1 or auto"),
    (["train", "--round", "1", "--model", "test_resnet"], "round 0 has no manifest"),
    (["drift", "--from", "0", "--to", "3"], "round 3 has no predictions"),
    (["sql", "UPDATE images SET label = 'x'"], "read-only"),
    (["ingest", "/no/such/folder", "--split", "train"], "no such file or folder"),
    (["ingest", ".", "--split", "unlabeled", "--shards", "2/2"], "--shards must be I/N with 0 <= I < N"),
    (["ingest", ".", "--split", "unlabeled", "--shards", "nan/inf"], "--shards must be I/N with 0 <= I < N"),
    (["ingest", ".", "--split", "holdout"], "--split must be one of"),
    (["ingest", "/no/such/pool-{000..003}.tar", "--split", "unlabeled"], "4 of 4 shards do not exist"),
    (["ingest", "/no/such/folder", "--split", "train", "--label-key", "cls"], "--label-key applies to tar shards"),
    (["export", "/no/such/out.csv", "--round", "7"], "round 7 has no manifest"),
    (["export", "/no/such/out.csv", "--format", "zip"], "--format must be one of"),
    (["import-predictions", "/no/such.parquet", "--round", "3", "--model-name", "m"], "no such file"),
    (["import-predictions", "/no/such.parquet", "--model-name", "m", "--output-type", "odds"], "--output-type must be"),
    (["import-predictions", "/no/such.parquet", "--round", "3"], "--model-name is empty"),
    (["review", "export", "/no/such/t.json", "--query", "SELECT 1 AS x"], "must return an image_id column"),
    (["review", "export", "/no/such/t.txt", "--query", "SELECT 1"], "must end in .json"),
    (["review", "export", "/no/such/t.json", "--query", "DROP TABLE images"], "read-only"),
    (["review", "import", "/no/such.json"], "no such file"),
    (["run", "--set", "select.threshold=2"], "--threshold must be in [0, 1]"),
    (["run", "--set", 'img_size="x"'], "[run] img_size = 'x': expected int"),
    (["run", "--set", "train.lr=true"], "[run.train] lr = True: expected float"),
    (["run", "--set", "train.epochs=nan"], "expected int | str"),
    (["run", "--set", 'train.epochs="often"'], "--epochs must be a count >= 1 or auto"),
    (["run", "--epochs", "often"], "--epochs must be a count >= 1 or auto (got 'often')"),
    (["run", "--rounds", "often"], "--rounds must be a count >= 1 or auto (got 'often')"),
    (["run", "--rounds", "0"], "rounds must be a count >= 1 or auto (got 0)"),
    (["run", "--set", "init_from_teacher=true", "--teacher-model", "test_resnet", "--student-model", "resnet10t"],
     "init_from_teacher needs every student to be its teacher's model"),
    (["eval", "--checkpoint", ""], "--checkpoint is empty"),
    (["eval", "--checkpoint", " "], "--checkpoint is empty"),
    (["select", "--round", "0", "--threshold", "nan"], "--threshold must be a finite number"),
    (["select", "--round", "0", "--labels", "soft", "--temperature", "inf"], "--temperature must be a finite number"),
    (["infer", "--round", "0", "--temperature", "inf", "--overwrite"], "--temperature must be a finite number"),
    (["dedup", "--round", "0", "--similarity", "nan"], "--similarity"),
    (["select", "--round", "0", "--threshold", "abc"], "--threshold must be in [0, 1] or auto"),
    (["select", "--round", "0", "--threshold", "auto", "--target-precision", "nan"], "--target-precision"),
    (["select", "--round", "0", "--threshold", "auto", "--target-precision", "0"], "--target-precision must be in"),
    (["select", "--round", "0", "--threshold", "auto"], "infer --round 0 --split val"),
    (["select", "--round", "0", "--threshold", "auto", "--below-target", "drop"], "--below-target must be one of"),
    (["select", "--round", "0", "--threshold", "auto", "--delta", "0"], "--delta must be in (0, 1)"),
    (["select", "--round", "0", "--threshold", "auto", "--delta", "nan"], "--delta must be a finite number"),
    (["select", "--round", "0", "--what-if", "--threshold", "2"], "--threshold must be in [0, 1] or auto"),
    (["infer", "--round", "0", "--temperature", "hot"], "--temperature must be > 0 or auto"),
    (["infer", "--round", "0", "--temperature", "auto", "--overwrite"], "never calibrated"),
    (["calibrate", "--split", "test"], "--split must be one of val, holdout, train"),
    (["calibrate", "--split", "holdout"], "trained on every labeled train image"),
    (["train", "--round", "0", "--model", "test_resnet", "--holdout", "1"], "--holdout must be in [0, 1)"),
    (["train", "--round", "0", "--model", "test_resnet", "--holdout", "-0.5"], "--holdout must be in [0, 1)"),
    (["train", "--round", "0", "--model", "test_resnet", "--holdout", "nan"], "--holdout must be a finite number"),
    (["train", "--round", "0", "--model", "test_resnet", "--sync-bn", "--device", "cpu"], "--sync-bn needs CUDA"),
    (["dedup", "--round", "0", "--recall", "nan"], "--recall must be a finite number"),
    (["dedup", "--round", "0", "--recall", "1.5"], "--recall must be in [0, 1]"),
    (["dedup", "--round", "0", "--max-clean-loss", "-0.1"], "--max-clean-loss must be in [0, 1]"),
    (["dedup", "--round", "0", "--max-clean-loss", "inf"], "--max-clean-loss must be a finite number"),
    (["dedup", "--round", "0", "--min-precision", "1.5"], "--min-precision must be in [0, 1]"),
    (["dedup", "--round", "0", "--min-precision", "nan"], "--min-precision must be a finite number"),
    (["dedup", "--round", "0", "--pixel-similarity", "2"], "--pixel-similarity must be in [-1, 1]"),
    (["dedup", "--round", "0", "--contamination-similarity", "-inf"], "--contamination-similarity"),
    (["dedup", "--round", "0", "--embeddings-round", "5"], "round 5 has no unlabeled embeddings"),
    (["dedup", "--round", "0", "--what-if", "--recall", "nan"], "--recall must be a finite number"),
    (["train", "--round", "1", "--weight-decay", "inf"], "--weight-decay must be a finite number"),
    (["train", "--round", "1", "--warmup-epochs", "inf"], "--warmup-epochs must be a finite number"),
    (["train", "--round", "1", "--min-lr", "nan"], "--min-lr must be a finite number"),
    (["train", "--round", "1", "--momentum", "nan"], "--momentum must be a finite number"),
    (["train", "--round", "1", "--clip-grad", "nan"], "--clip-grad must be a finite number"),
    (["view", "--sql-seconds", "nan"], "--sql-seconds must be a finite number"),
    (["view", "--sql-seconds", "0"], "--sql-seconds must be in (0, 3600]"),
    (["view", "--sql-seconds", "-inf"], "--sql-seconds must be a finite number"),
    (["view", "--token", "short"], "--token must be at least 16 characters"),
    (["view", "--host", "a b"], "--host must be an address or host name"),
    (["view", "--host", ""], "--host must be an address or host name"),
    (["view", "--host", "203.0.113.7", "--port", "1"], "cannot listen on 203.0.113.7:1"),
]


@pytest.mark.parametrize("args,message", CASES, ids=[" ".join(a[:3]) for a, _ in CASES])
def test_bad_parameter(ws, cli, args, message):
    before = tree_digest(ws.root)
    r = cli(*args, "-w", ws.root)
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert tree_digest(ws.root) == before


def test_a_checkpoint_trained_on_other_classes(ws, trained, cli, tmp_path):
    other = init_workspace(tmp_path / "other")
    write_pngs(tmp_path / "cats" / "cat", 3, seed=1)
    write_pngs(tmp_path / "cats" / "dog", 3, seed=2)
    ingest(other, IngestOptions(source=tmp_path / "cats", split="train", workers=1))
    ingest(other, IngestOptions(source=tmp_path / "cats", split="test", workers=1))
    # the checkpoint's files and its row, copied over: its classes are the digits
    ckpt_id = trained[1]
    shutil.copytree(ws.checkpoints_dir / ckpt_id, other.checkpoints_dir / ckpt_id)
    other.table_dir("checkpoints").mkdir(parents=True)
    shutil.copy(ws.table_dir("checkpoints") / f"{ckpt_id}.parquet", other.table_dir("checkpoints"))
    assert checkpoints.find(other, ckpt_id)
    other.sync_catalog()
    before = tree_digest(other.root)
    r = cli("eval", "--checkpoint", ckpt_id, "-w", other.root)
    assert r.exit_code == 2 and "trained on other classes" in r.stderr
    assert tree_digest(other.root) == before


def test_a_manifest_from_another_workspace(ws, cli, tmp_path, image_folder):
    other = init_workspace(tmp_path / "other")
    ingest(other, IngestOptions(source=image_folder, split="train", workers=1))
    foreign = labeled_manifest(other)
    before = tree_digest(ws.root)
    r = cli("train", "--round", "0", "--model", "test_resnet", "--manifest", foreign, "-w", ws.root)
    assert r.exit_code == 2 and "not in this workspace" in r.stderr
    assert tree_digest(ws.root) == before
