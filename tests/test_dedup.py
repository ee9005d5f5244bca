"""plabel dedup: exact and near duplicates, contamination, groups and their representatives."""
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from plabel.dedup import build_index, dedup, near_groups
from plabel.errors import UnknownRound, UsageError
from plabel.infer import InferOptions, infer
from plabel.ingest import ingest
from plabel.schema import table
from plabel.selection import SelectOptions, select
from plabel.train import TrainOptions, train
from plabel.workspace import init_workspace
from tests.tables import add_classes, add_embeddings, add_images, add_predictions, iid
from tests.test_train import FAST, make_ws


def base(tmp_path, unlabeled, others=(), classes=("a", "b")):
    ws = init_workspace(tmp_path / "ws")
    add_classes(ws, list(classes))
    add_images(ws, [(iid(n), "unlabeled", None, None) for n, _, _ in unlabeled] +
               [(iid(n), split, "a", None) for n, split in others])
    add_predictions(ws, 0, [(iid(n), c, p) for n, c, p in unlabeled], len(classes))
    return ws


def dups(ws, round=0):
    return pq.read_table(ws.round_dir("duplicates", round) / "duplicates.parquet").to_pylist()


def test_exact_duplicates_across_splits(tmp_path):
    ws = base(tmp_path, [("u1", 0, 0.9), ("u2", 0, 0.9), ("u3", 1, 0.9)], others=[("u1", "test"), ("u2", "train")])
    r = dedup(ws, 0)
    assert r.exact == 2 and r.contaminated == 1 and r.train_duplicates == 1 and r.excluded == 1
    rows = {(d["image_id"], d["scope"]): d for d in dups(ws)}
    assert rows[(iid("u1"), "test")]["excluded"] and rows[(iid("u1"), "test")]["kind"] == "exact"
    assert not rows[(iid("u2"), "train")]["excluded"]
    assert r.notes  # no embeddings: only exact duplicates


def test_near_groups_keep_the_most_confident_then_the_smallest_id(tmp_path):
    ws = base(tmp_path, [("u1", 0, 0.5), ("u2", 0, 0.8), ("u3", 0, 0.8), ("u4", 1, 0.9), ("u5", 1, 0.7)])
    v = [1, 0, 0]
    add_embeddings(ws, 0, [(iid("u1"), "unlabeled", v), (iid("u2"), "unlabeled", v), (iid("u3"), "unlabeled", v),
                           (iid("u4"), "unlabeled", [0, 1, 0]), (iid("u5"), "unlabeled", [0, 0, 1])])
    r = dedup(ws, 0)
    assert (r.near_groups, r.near_members, r.excluded) == (1, 3, 2)
    group = [d for d in dups(ws) if d["kind"] == "near"]
    assert {d["group_id"] for d in group} == {iid("u2")}  # u2 and u3 tie at 0.8: the smaller id
    assert {d["image_id"]: d["excluded"] for d in group} == {iid("u1"): True, iid("u2"): False, iid("u3"): True}


def test_threshold_decides(tmp_path):
    ws = base(tmp_path, [("u1", 0, 0.9), ("u2", 0, 0.8)])
    angle = np.arccos(0.985)
    add_embeddings(ws, 0, [(iid("u1"), "unlabeled", [1, 0]), (iid("u2"), "unlabeled", [np.cos(angle), np.sin(angle)])])
    assert dedup(ws, 0, similarity=0.99).near_groups == 0
    assert dedup(ws, 0, similarity=0.98).near_groups == 1
    assert len(dups(ws)) == 2  # rerunning replaced the round's rows


def test_approximate_index_finds_clear_duplicates():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 32)).astype(np.float32)
    x[1::2] = x[0::2] + rng.normal(scale=0.01, size=(1500, 32))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = [f"{i:06d}" for i in range(3000)]
    conf = np.ones(3000, np.float32)
    exact, kind_exact = near_groups(ids, x, conf, 0.99)
    approx, kind_approx = near_groups(ids, x, conf, 0.99, exact_limit=1000)
    assert kind_exact == "flat" and kind_approx.startswith("ivf")
    assert len({d["group_id"] for d in exact}) == 1500
    found = {frozenset((d["image_id"], d["group_id"])) for d in approx if d["excluded"]}
    truth = {frozenset((d["image_id"], d["group_id"])) for d in exact if d["excluded"]}
    assert len(found & truth) / len(truth) > 0.95  # recall of the IVF index against exact search
    index, kind = build_index(x, exact_limit=10)
    assert kind.startswith("ivf") and index.ntotal == 3000


def test_schema_and_errors(tmp_path):
    ws = base(tmp_path, [("u1", 0, 0.9)])
    with pytest.raises(UnknownRound):
        dedup(ws, 2)
    with pytest.raises(UsageError, match="no embeddings"):
        dedup(ws, 0, similarity=0.9)
    with pytest.raises(UsageError, match="--similarity"):
        dedup(ws, 0, similarity=2.0)
    dedup(ws, 0)
    f = next(ws.round_dir("duplicates", 0).glob("*.parquet"))
    assert pq.read_schema(f).remove_metadata() == table("duplicates").arrow_schema()


def test_a_near_duplicate_of_a_test_image_never_reaches_a_manifest(tmp_path, mnist_folders):
    """End to end on real files: a re-encoded copy of a test digit hidden in the unlabeled pool."""
    ws = make_ws(tmp_path / "ws", mnist_folders)
    test_png = sorted(mnist_folders.test.rglob("*.png"))[0]
    leak = tmp_path / "leak"
    leak.mkdir()
    im = Image.open(test_png)
    im.save(leak / "copy.jpg", quality=95)  # same digit, other bytes: only a near duplicate
    ingest(ws, leak, split="unlabeled", workers=1)
    train(ws, TrainOptions(round=0, epochs=8, **FAST))
    infer(ws, InferOptions(round=0, splits=("unlabeled", "test"), embeddings=True, workers=0))
    r = dedup(ws, 0)
    con = ws.connect()
    leak_id = con.execute("SELECT image_id FROM images WHERE path LIKE '%copy.jpg'").fetchall()[0][0]
    row = con.execute("SELECT scope, excluded, similarity FROM duplicates WHERE image_id = ?", [leak_id]).fetchall()
    assert row and row[0][0] == "test" and row[0][1] and row[0][2] >= 0.99, row
    assert r.contaminated >= 1
    select(ws, SelectOptions(round=0, threshold=0.0, balance="none"))
    ids = {r["image_id"] for r in pq.read_table(ws.round_dir("manifests", 0) / "manifest.parquet").to_pylist()}
    assert leak_id not in ids and len(ids) > 100
    shutil.rmtree(leak)
