"""plabel infer on real PNGs with a trained tiny model: rows, exactly-once, resume, rejects."""
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from plabel.errors import UnknownCheckpoint, UsageError
from plabel.infer import InferOptions, infer
from plabel.ingest import IngestOptions, ingest
from plabel.schema import table
from plabel.train import TrainOptions, train
from plabel.workspace import open_workspace
from tests.crashes import count_points, killed, run_plabel
from tests.test_train import FAST, make_ws


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist_folders):
    ws = make_ws(tmp_path_factory.mktemp("infer") / "ws", mnist_folders)
    train(ws, TrainOptions(round=0, epochs=8, **FAST))
    return ws


@pytest.fixture
def ws(trained, tmp_path):
    shutil.copytree(trained.root, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


def test_rows_and_columns_match_the_schema(ws):
    r = infer(ws, InferOptions(round=0, splits=("unlabeled", "test"), workers=0, store_probs="full", embeddings=True))
    assert r.predicted == 300 and r.rows == 300 and r.rejected == 0
    for name in ("predictions", "embeddings"):
        for f in ws.round_dir(name, 0).glob("*.parquet"):
            assert pq.read_schema(f).remove_metadata() == table(name).arrow_schema()
    assert ws.rows("SELECT split, count(*) FROM predictions GROUP BY 1 ORDER BY 1") == [
        ("test", 100),
        ("unlabeled", 200),
    ]
    assert ws.rows("SELECT count(DISTINCT image_id) FROM predictions") == [(300,)]


def test_probabilities_are_consistent(ws):
    infer(ws, InferOptions(round=0, workers=0, store_probs="full", topk=3))
    t = pq.read_table(next(ws.round_dir("predictions", 0).glob("*.parquet")))
    probs = np.array(t.column("probs").to_pylist(), dtype=np.float32)
    prob = np.array(t.column("prob").to_pylist())
    index = np.array(t.column("index").to_pylist())
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=5e-3)  # float16 storage
    assert (np.diff(prob, axis=1) <= 0).all()  # top-k sorted, most probable first
    np.testing.assert_array_equal(index[:, 0], t.column("class_id").to_numpy())
    np.testing.assert_allclose(prob[:, 0], t.column("confidence").to_numpy())
    np.testing.assert_allclose(prob[:, 0] - prob[:, 1], t.column("margin").to_numpy(), atol=1e-6)
    ent = -(probs * np.log(np.clip(probs, 1e-12, 1))).sum(1)
    np.testing.assert_allclose(ent, t.column("entropy").to_numpy(), atol=2e-2)
    np.testing.assert_allclose(np.take_along_axis(probs, index, 1), prob, atol=1e-3)


def test_embeddings_are_unit_vectors(ws):
    infer(ws, InferOptions(round=0, workers=0, embeddings=True))
    norms = ws.rows(
        "SELECT min(sqrt(list_sum(list_transform(embedding, lambda x: x * x)))), "
        "max(sqrt(list_sum(list_transform(embedding, lambda x: x * x)))) FROM embeddings"
    )[0]
    assert norms[0] == pytest.approx(1, abs=2e-3) and norms[1] == pytest.approx(1, abs=2e-3)


def test_same_checkpoint_and_images_give_identical_predictions(ws):
    infer(ws, InferOptions(round=0, workers=2))
    first = ws.rows("SELECT image_id, class_id, confidence, prob FROM predictions ORDER BY image_id")
    r = infer(ws, InferOptions(round=0, workers=2, overwrite=True))
    assert r.predicted == 200
    assert ws.rows("SELECT image_id, class_id, confidence, prob FROM predictions ORDER BY image_id") == first


def test_complete_round_is_not_recomputed(ws):
    infer(ws, InferOptions(round=0, workers=0))
    again = infer(ws, InferOptions(round=0, workers=0))
    assert again.already_complete and again.predicted == 0 and again.rows == 200


def test_temperature_softens_the_distribution(ws):
    infer(ws, InferOptions(round=0, workers=0))
    cold = dict(ws.rows("SELECT image_id, confidence FROM predictions"))
    infer(ws, InferOptions(round=0, workers=0, temperature=4.0, overwrite=True))
    hot = dict(ws.rows("SELECT image_id, confidence FROM predictions"))
    assert all(hot[i] <= cold[i] + 1e-6 for i in cold)
    assert ws.rows("SELECT DISTINCT temperature FROM predictions") == [(4.0,)]


def test_unreadable_images_are_rejected_and_skipped(ws, tmp_path):
    # two images of our own (the shared MNIST files must stay intact), broken after ingest
    extra = tmp_path / "extra"
    extra.mkdir()
    for i, (p,) in enumerate(ws.rows("SELECT path FROM images WHERE split = 'test' ORDER BY path LIMIT 2")):
        data = ws.resolve_path(p).read_bytes()
        (extra / f"{i}.png").write_bytes(data + b"\0")  # new bytes, new image ids
    ingest(ws, IngestOptions(source=extra, split="unlabeled", workers=1))
    (extra / "0.png").unlink()
    data = (extra / "1.png").read_bytes()
    (extra / "1.png").write_bytes(data[: len(data) * 2 // 3])
    r = infer(ws, InferOptions(round=0, workers=0))
    assert r.predicted == 200 and r.rejected == 2
    reasons = sorted(x[0] for x in ws.rows("SELECT reason FROM rejects WHERE stage = 'infer' AND round = 0"))
    assert reasons[0] == "file not found" and reasons[1].startswith("truncated or corrupt")


@pytest.mark.slow
def test_killed_infer_resumes_exactly_once(ws, tmp_path):
    args = [
        "infer",
        "--round",
        "0",
        "--workers",
        "0",
        "--batch-size",
        "8",
        "--rows-per-file",
        "16",
        "--embeddings",
        "-w",
        ws.root,
    ]
    reference = tmp_path / "ref"
    shutil.copytree(ws.root, reference)
    open_workspace(reference).sync_catalog()  # writers refresh a stale catalog: the same start for both
    points = count_points([*args[:-1], reference], tmp_path)
    # the catalog refresh every writer ends with: its points come after the commits
    stale = shutil.copytree(ws.root, tmp_path / "stale")
    catalog = count_points(["init", stale], tmp_path)
    assert points > 10 + catalog  # 13 flushes x 2 files, then 2 commits, then the catalog
    expected = open_workspace(reference).rows(
        "SELECT image_id, class_id, confidence, prob FROM predictions ORDER BY image_id"
    )
    commits = points - catalog
    # inside a flush, at the embeddings commit, at the predictions commit (the catalog refresh every
    # writer ends with: tests/adversarial/test_kill_rerun.py kills it at each of its steps)
    for kill_at in (6, commits - 1, commits):
        ws.sync_catalog()
        r = run_plabel(args, kill_at=kill_at)
        assert killed(r), (kill_at, points, r.stderr)
        assert not ws.round_dir("predictions", 0).exists() or kill_at > commits
        r = run_plabel(args)
        assert r.returncode == 0, r.stderr
        got = ws.rows("SELECT image_id, class_id, confidence, prob FROM predictions ORDER BY image_id")
        assert got == expected  # the very same numbers: batches are the same blocks after a resume
        assert ws.rows("SELECT count(*), count(DISTINCT image_id) FROM embeddings") == [(200, 200)]
        shutil.rmtree(ws.round_dir("predictions", 0))
        shutil.rmtree(ws.round_dir("embeddings", 0))


def test_bad_options_are_usage_errors(ws):
    for opts, message in [
        (dict(round=0, topk=0), "`topk`"),
        (dict(round=0, store_probs="all"), "`store_probs`"),
        (dict(round=0, splits=("holdout",)), "`split`"),
        (dict(round=0, temperature=0), "`temperature`"),
    ]:
        with pytest.raises(UsageError, match=message):
            infer(ws, InferOptions(workers=0, **opts))
    with pytest.raises(UnknownCheckpoint):
        infer(ws, InferOptions(round=4, workers=0))


def test_cli_infer_json(ws, cli):
    import json

    r = cli("infer", "--round", "0", "--workers", "0", "--split", "val", "-w", ws.root, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["predicted"] == 300 and out["rows"] == 300 and out["bytes_on_disk"] > 0
