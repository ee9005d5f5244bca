"""plabel select on hand-built prediction tables whose right selection is known by construction."""
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from plabel.dedup import DedupOptions, dedup
from plabel.errors import UnknownRound, UsageError
from plabel.selection import SelectOptions, auto_per_class, cutoffs, select
from plabel.workspace import init_workspace
from tests.helpers import tree_digest
from tests.tables import add_classes, add_embeddings, add_images, add_predictions, iid


def setup(tmp_path, preds, classes=("a", "b", "c"), labeled=(), others=()):
    """preds: (name, class_id, confidence) of unlabeled images; labeled: (name, label)."""
    ws = init_workspace(tmp_path / "ws")
    add_classes(ws, list(classes))
    rows = [(iid(n), "unlabeled", None, None) for n, _, _ in preds]
    rows += [(iid(n), "train", lab, None) for n, lab in labeled]
    rows += [(iid(n), split, lab, None) for n, split, lab in others]
    add_images(ws, rows)
    add_predictions(ws, 0, [(iid(n), c, p) for n, c, p in preds], len(classes))
    return ws


def manifest(ws, round=0):
    t = pq.read_table(ws.round_dir("manifests", round) / "manifest.parquet")
    return t.to_pylist()


def pseudo(ws, round=0):
    return {r["image_id"]: r for r in manifest(ws, round) if r["origin"] == "pseudo"}


def test_threshold_is_inclusive_in_float32(tmp_path):
    ws = setup(tmp_path, [("a1", 0, 0.3), ("a2", 0, 0.29999), ("a3", 0, 0.7), ("b1", 1, 0.7)])
    select(ws, SelectOptions(round=0, threshold=0.3, balance="none"))
    assert set(pseudo(ws)) == {iid("a1"), iid("a3"), iid("b1")}
    select(ws, SelectOptions(round=0, threshold=0.7, balance="none", overwrite=True))
    assert set(pseudo(ws)) == {iid("a3"), iid("b1")}  # 0.7 stored as float32 still clears 0.7


def test_topk_keeps_the_n_most_confident_with_ties_by_id(tmp_path):
    ws = setup(tmp_path, [("a1", 0, 0.9), ("a2", 0, 0.8), ("a3", 0, 0.8), ("a4", 0, 0.8), ("a5", 0, 0.4)])
    r = select(ws, SelectOptions(round=0, threshold=0.3, per_class=3, balance="topk"))
    assert set(pseudo(ws)) == {iid("a1"), iid("a2"), iid("a3")}  # a4 loses the tie on its id
    assert all(row["copies"] == 1 for row in pseudo(ws).values())
    assert r.classes[0].selected == 3 and r.classes[0].cutoff == pytest.approx(0.8)


def test_topk_duplicates_a_small_class_evenly(tmp_path):
    ws = setup(
        tmp_path,
        [
            ("a1", 0, 0.9),
            ("a2", 0, 0.6),
            ("b1", 1, 0.9),
            ("b2", 1, 0.8),
            ("b3", 1, 0.7),
            ("b4", 1, 0.65),
            ("b5", 1, 0.61),
            ("b6", 1, 0.6),
        ],
    )
    select(ws, SelectOptions(round=0, threshold=0.3, per_class=5, balance="topk"))
    rows = pseudo(ws)
    assert rows[iid("a1")]["copies"] == 3 and rows[iid("a2")]["copies"] == 2  # 5 = 3 + 2, more to the surer
    assert sum(r["copies"] for r in rows.values() if r["target"] == 1) == 5
    assert iid("b6") not in rows


def test_a_class_with_nothing_above_the_threshold(tmp_path):
    ws = setup(tmp_path, [("a1", 0, 0.9), ("b1", 1, 0.2), ("b2", 1, 0.1)])
    r = select(ws, SelectOptions(round=0, threshold=0.3, per_class=4, balance="topk"))
    by_class = {c.name: c for c in r.classes}
    assert by_class["b"].predicted == 2 and by_class["b"].above_threshold == 0 and by_class["b"].selected == 0
    assert by_class["c"].predicted == 0 and by_class["c"].selected == 0
    assert [row["target"] for row in pseudo(ws).values()] == [0]


@pytest.mark.parametrize("balance", ["topk", "copies"])
def test_n_zero_selects_no_pseudo_labels(tmp_path, balance):
    ws = setup(tmp_path, [("a1", 0, 0.9), ("b1", 1, 0.8)], labeled=[("l1", "a")])
    r = select(ws, SelectOptions(round=0, per_class=0, balance=balance))
    assert r.n_pseudo == 0 and pseudo(ws) == {}
    assert [row["origin"] for row in manifest(ws)] == ["labeled"]


def test_single_class(tmp_path):
    ws = setup(tmp_path, [("a1", 0, 0.9), ("a2", 0, 0.5)], classes=("only",))
    r = select(ws, SelectOptions(round=0, per_class=4, balance="topk"))
    assert r.n_pseudo == 2 and r.n_pseudo_copies == 4


def test_copies_walks_the_histogram_from_the_top():
    # class 0: two at 0.95, one at 0.93, one at 0.91, one at 0.5 (bins as (class, bin, count))
    hist = [(0, 95, 2), (0, 93, 1), (0, 91, 1), (0, 50, 1), (1, 60, 1), (1, -1, 1)]
    cuts = {c: (cut, n) for c, cut, n in cutoffs(hist, 3, {0: 0.3, 1: 0.3})}
    assert cuts[0] == (pytest.approx(0.93), 3)  # 2 < 3 at 0.95, 3 at 0.93: stop
    assert cuts[1] == (pytest.approx(0.3), 2)  # never reaches 3: down to the threshold
    cuts = {c: (cut, n) for c, cut, n in cutoffs(hist, 3, {0: 0.3, 1: 0.45})}
    assert cuts[1] == (pytest.approx(0.45), 2)  # each class stops at its own threshold
    cuts = {c: (cut, n) for c, cut, n in cutoffs(hist, 2, {0: 0.3, 1: 0.3})}
    assert cuts[0] == (pytest.approx(0.95), 2)


def test_copies_mode_upsamples_small_and_thins_large_classes(tmp_path):
    preds = [("a1", 0, 0.6), ("a2", 0, 0.4)]  # 2 images for N = 5: c = 2.5
    preds += [(f"b{i:03d}", 1, 0.99) for i in range(200)]  # 200 in one bin for N = 5: c = 0.025
    ws = setup(tmp_path, preds)
    r = select(ws, SelectOptions(round=0, threshold=0.3, per_class=5, balance="copies", seed=1))
    rows = pseudo(ws)
    assert {rows[iid("a1")]["copies"], rows[iid("a2")]["copies"]} <= {2, 3}
    b = [row for row in rows.values() if row["target"] == 1]
    assert 0 < len(b) < 20 and all(row["copies"] == 1 for row in b)
    first = r.manifest_hash
    again = select(ws, SelectOptions(round=0, threshold=0.3, per_class=5, balance="copies", seed=1))
    assert again.already_selected and again.manifest_hash == first
    other = select(ws, SelectOptions(round=0, threshold=0.3, per_class=5, balance="copies", seed=2, overwrite=True))
    assert other.manifest_hash != first


def test_copies_bernoulli_draws_follow_the_fraction(tmp_path):
    preds = [(f"a{i:03d}", 0, 0.8) for i in range(400)]
    ws = setup(tmp_path, preds)
    select(ws, SelectOptions(round=0, threshold=0.3, per_class=100, balance="copies", seed=3))
    kept = len(pseudo(ws))  # c = 0.25 for each of 400 images: Binomial(400, 0.25), mean 100, sd 8.7
    assert 100 - 35 < kept < 100 + 35


def test_same_inputs_and_seed_give_the_same_manifest_bytes(tmp_path):
    preds = [(f"a{i:02d}", i % 3, 0.3 + (i * 7 % 70) / 100) for i in range(60)]
    a = setup(tmp_path / "x", preds, labeled=[("l1", "a"), ("l2", "b")])
    b = setup(tmp_path / "y", preds, labeled=[("l1", "a"), ("l2", "b")])
    opts = SelectOptions(round=0, per_class=7, balance="copies", labels="soft", seed=5)
    assert select(a, opts).manifest_hash == select(b, opts).manifest_hash


def test_none_keeps_everything_above_the_threshold_once(tmp_path):
    ws = setup(tmp_path, [("a1", 0, 0.9), ("a2", 0, 0.31), ("b1", 1, 0.1)])
    r = select(ws, SelectOptions(round=0, threshold=0.3, balance="none"))
    assert r.per_class is None and {row["copies"] for row in pseudo(ws).values()} == {1} and r.n_pseudo == 2


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_soft_labels_renormalise_the_stored_top_k(tmp_path, temperature):
    ws = setup(tmp_path, [("a1", 0, 0.6), ("b1", 1, 0.9)], classes=tuple("abcdefg"))
    select(ws, SelectOptions(round=0, balance="none", labels="soft", temperature=temperature))
    con = ws.connect()
    stored = {r[0]: (r[1], r[2]) for r in con.execute("SELECT image_id, index, prob FROM predictions").fetchall()}
    for image_id, row in pseudo(ws).items():
        index, prob = stored[image_id]
        w = np.array(prob) ** (1 / temperature)
        assert row["target_index"] == index
        np.testing.assert_allclose(row["target_prob"], w / w.sum(), rtol=1e-5)
        assert row["target"] == index[0]


def test_soft_labels_from_the_full_vector(tmp_path):
    ws = init_workspace(tmp_path / "ws")
    add_classes(ws, list("abcdefgh"))
    add_images(ws, [(iid("u1"), "unlabeled", None, None)])
    add_predictions(ws, 0, [(iid("u1"), 2, 0.5)], 8, full=True)
    select(ws, SelectOptions(round=0, balance="none", labels="soft"))
    row = pseudo(ws)[iid("u1")]
    assert row["target_index"] == list(range(8)) and sum(row["target_prob"]) == pytest.approx(1, abs=1e-3)


def test_labeled_rows_are_included_unless_asked(tmp_path):
    ws = setup(tmp_path, [("a1", 0, 0.9)], labeled=[("l1", "b"), ("l2", "c")])
    r = select(ws, SelectOptions(round=0, balance="none"))
    rows = [row for row in manifest(ws) if row["origin"] == "labeled"]
    assert r.n_labeled == 2 and sorted(row["target"] for row in rows) == [1, 2]
    assert all(row["copies"] == 1 and row["confidence"] is None for row in rows)
    r = select(ws, SelectOptions(round=0, balance="none", include_labeled=False, overwrite=True))
    assert r.n_labeled == 0 and all(row["origin"] == "pseudo" for row in manifest(ws))


def test_exact_contamination_is_excluded_without_dedup(tmp_path):
    ws = setup(tmp_path, [("a1", 0, 0.9), ("a2", 0, 0.9)], others=[("a2", "test", "a")])
    r = select(ws, SelectOptions(round=0, balance="none"))
    assert set(pseudo(ws)) == {iid("a1")} and r.notes


def test_duplicate_groups_keep_one_representative(tmp_path):
    preds = [("a1", 0, 0.7), ("a2", 0, 0.9), ("a3", 0, 0.8), ("b1", 1, 0.9), ("t1", 1, 0.9)]
    ws = setup(tmp_path, preds, others=[("tt", "test", "b")])
    same, other, leak = [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]
    add_embeddings(
        ws,
        0,
        [
            (iid("a1"), "unlabeled", same),
            (iid("a2"), "unlabeled", same),
            (iid("a3"), "unlabeled", [1, 0.001, 0, 0]),
            (iid("b1"), "unlabeled", other),
            (iid("t1"), "unlabeled", leak),
            (iid("tt"), "test", [0, 0, 1, 0.001]),
        ],
    )
    # crafted vectors: no model to calibrate
    d = dedup(ws, DedupOptions(round=0, similarity=0.995, contamination_similarity=0.995))
    assert d.near_groups == 1 and d.near_members == 3 and d.contaminated == 1
    select(ws, SelectOptions(round=0, balance="none"))
    assert set(pseudo(ws)) == {iid("a2"), iid("b1")}  # a2: the most confident of the group
    select(ws, SelectOptions(round=0, balance="none", keep_duplicates=True, overwrite=True))
    assert set(pseudo(ws)) == {iid("a1"), iid("a2"), iid("a3"), iid("b1")}  # never t1, the test look-alike


def test_dry_run_writes_nothing(tmp_path):
    ws = setup(tmp_path, [("a1", 0, 0.9), ("b1", 1, 0.8)])
    before = tree_digest(ws.tables_dir)
    r = select(ws, SelectOptions(round=0, per_class=2, dry_run=True))
    assert r.dry_run and r.n_pseudo == 2 and r.n_pseudo_copies == 4 and r.manifest_path is None
    assert tree_digest(ws.tables_dir) == before


def test_reselecting_with_other_parameters_needs_overwrite(tmp_path):
    ws = setup(tmp_path, [("a1", 0, 0.9), ("b1", 1, 0.5)])
    select(ws, SelectOptions(round=0, threshold=0.3))
    with pytest.raises(UsageError, match="`overwrite`"):
        select(ws, SelectOptions(round=0, threshold=0.6))
    r = select(ws, SelectOptions(round=0, threshold=0.6, overwrite=True))
    assert r.n_pseudo == 1


def test_selection_records_parameters_and_funnel(tmp_path):
    ws = setup(tmp_path, [("a1", 0, 0.9), ("a2", 0, 0.2), ("b1", 1, 0.8)])
    r = select(ws, SelectOptions(round=0, per_class=2, seed=9))
    con = ws.connect()
    row = con.execute(
        "SELECT selection_id, threshold, per_class, balance, seed, manifest_hash, n_pseudo FROM selections"
    ).fetchall()
    assert row == [(r.selection_id, pytest.approx(0.3), 2, "topk", 9, r.manifest_hash, 2)]
    funnel = con.execute(
        "SELECT class_id, predicted, above_threshold, after_dedup, selected, copies FROM selection_classes ORDER BY 1"
    ).fetchall()
    assert funnel == [(0, 2, 1, 1, 1, 2), (1, 1, 1, 1, 1, 2), (2, 0, 0, 0, 0, 0)]
    assert json.loads(con.execute("SELECT params FROM selections").fetchall()[0][0])["per_class_resolved"] == 2


def test_per_class_auto_is_the_median():
    assert auto_per_class([10, 0, 4, 7]) == 7 and auto_per_class([0, 0]) == 0


@pytest.mark.parametrize(
    "opts,message",
    [
        (dict(threshold=1.5), "`threshold`"),
        (dict(threshold=-0.1), "`threshold`"),
        (dict(per_class=-1), "`per_class`"),
        (dict(balance="random"), "`balance`"),
        (dict(labels="fuzzy"), "`labels`"),
        (dict(temperature=0), "`temperature`"),
    ],
)
def test_bad_parameters(tmp_path, opts, message):
    ws = setup(tmp_path, [("a1", 0, 0.9)])
    before = tree_digest(ws.root)
    with pytest.raises(UsageError, match=message):
        select(ws, SelectOptions(round=0, **opts))
    assert tree_digest(ws.root) == before


def test_unknown_round(tmp_path):
    ws = setup(tmp_path, [("a1", 0, 0.9)])
    with pytest.raises(UnknownRound):
        select(ws, SelectOptions(round=3))


def test_per_class_auto_counts_the_pool_not_what_the_threshold_leaves(tmp_path):
    """N is the median class size of the deduplicated pool: a stricter threshold removes the
    doubtful rows of a class, it does not shrink every class's quota (b keeps its 6, not 2)."""
    preds = [(f"a{i}", 0, 0.95) for i in range(2)] + [(f"a{i}", 0, 0.4) for i in range(2, 8)]
    preds += [(f"b{i}", 1, 0.95) for i in range(6)]
    preds += [(f"c{i}", 2, 0.95) for i in range(1)] + [(f"c{i}", 2, 0.4) for i in range(1, 6)]
    ws = setup(tmp_path, preds)
    r = select(ws, SelectOptions(round=0, threshold=0.9, balance="topk"))
    assert r.per_class == 6  # the median of 8, 6, 6 pool images; above 0.9 it would be 2 (2, 6, 1)
    assert [(c.after_dedup, c.selected, c.copies) for c in r.classes] == [(2, 2, 6), (6, 6, 6), (1, 1, 6)]
    low = select(ws, SelectOptions(round=0, threshold=0.3, balance="topk", dry_run=True))
    assert low.per_class == 6 and [c.selected for c in low.classes] == [6, 6, 6]
