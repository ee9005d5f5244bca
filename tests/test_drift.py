"""The drift views, plabel drift and plabel rounds on three rounds known by construction."""
import csv
import dataclasses
import io
import json

import numpy as np
import pytest

from plabel.drift import DriftOptions, RoundRow, drift, rounds
from plabel.errors import UnknownRound, UsageError
from plabel.workspace import init_workspace
from tests.tables import three_rounds


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    ws = init_workspace(tmp_path_factory.mktemp("drift") / "ws")
    three_rounds(ws)
    ws.sync_catalog()
    return ws


def q(ws, sql, params=None):
    con = ws.connect()
    try:
        cur = con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=False)) for r in cur.fetchall()]
    finally:
        con.close()


def short(image_id):
    return image_id.lstrip("0")


def test_label_flips(ws):
    rows = q(ws, "SELECT * FROM label_flips WHERE split = 'unlabeled'")
    by_pair = {}
    for r in rows:
        by_pair.setdefault((r["round_a"], r["round_b"]), set()).add((short(r["image_id"]), r["name_a"], r["name_b"]))
    assert by_pair[(0, 1)] == {("u2", "b", "a"), ("u4", "a", "b"), ("u6", "c", "a")}
    assert by_pair[(1, 2)] == {("u3", "b", "c"), ("u6", "a", "c")}
    assert by_pair[(0, 2)] == {("u2", "b", "a"), ("u3", "b", "c"), ("u4", "a", "b")}
    u2 = next(r for r in rows if short(r["image_id"]) == "u2" and r["round_b"] == 1)
    assert (u2["confidence_a"], u2["confidence_b"]) == (pytest.approx(0.6), pytest.approx(0.7))


def test_class_transitions(ws):
    rows = q(ws, "SELECT name_a, name_b, images FROM class_transitions WHERE round_a = 0 AND round_b = 1 "
                 "AND split = 'unlabeled' ORDER BY 1, 2")
    assert [(r["name_a"], r["name_b"], r["images"]) for r in rows] == [
        ("a", "a", 1), ("a", "b", 1), ("b", "a", 1), ("b", "b", 1), ("c", "a", 1), ("c", "c", 1)]


def test_drift_summary(ws):
    rows = q(ws, "SELECT * FROM drift_summary ORDER BY round_a")
    assert [(r["round_a"], r["round_b"]) for r in rows] == [(0, 1), (1, 2)]
    first, second = rows
    assert first["images"] == 6 and first["flip_rate"] == pytest.approx(0.5)
    assert second["flip_rate"] == pytest.approx(2 / 6)
    assert first["mean_confidence_change"] == pytest.approx(0.85 / 6, abs=1e-6)
    assert first["threshold"] == pytest.approx(0.5)
    assert first["above_threshold_a"] == pytest.approx(4 / 6) and first["above_threshold_b"] == pytest.approx(1.0)
    p, r = np.array([2, 2, 2]) / 6, np.array([3, 2, 1]) / 6
    m = (p + r) / 2
    js = 0.5 * (p * np.log2(p / m)).sum() + 0.5 * (r * np.log2(r / m)).sum()
    assert first["js_divergence"] == pytest.approx(js)
    # round 0 selected u1 u2 u3 u5 (>= 0.5), round 1 u1 to u5 (>= 0.55)
    assert (first["selection_entered"], first["selection_left"], first["selection_kept"]) == (1, 0, 4)
    assert second["threshold"] == pytest.approx(0.55)
    assert second["selection_entered"] is None  # round 2 has no selection yet


def test_negative_and_positive_flips(ws):
    rows = q(ws, "SELECT * FROM negative_flips")
    got = {(short(r["image_id"]), r["round_a"], r["round_b"], r["kind"]) for r in rows}
    assert got == {("t1", 0, 1, "negative"), ("t2", 0, 1, "positive"), ("v1", 1, 2, "negative"),
                   ("t1", 0, 2, "negative"), ("t2", 0, 2, "positive"), ("v1", 0, 2, "negative")}


def test_pseudo_label_accuracy(ws):
    rows = {(r["round"], r["name"]): r for r in q(ws, "SELECT * FROM pseudo_label_accuracy")}
    assert (rows[(0, "a")]["selected"], rows[(0, "a")]["correct"]) == (1, 1)
    assert (rows[(0, "b")]["selected"], rows[(0, "b")]["correct"], rows[(0, "b")]["accuracy"]) == (2, 1, 0.5)
    assert (rows[(1, "a")]["selected"], rows[(1, "a")]["correct"]) == (2, 2)
    assert rows[(1, "b")]["accuracy"] == 1.0 and rows[(1, "c")]["accuracy"] == 1.0
    # round 0 predicted a for u1 (right) and u4 (wrong): all predictions of a were 50% right
    assert rows[(0, "a")]["all_predictions_accuracy"] == pytest.approx(0.5)


def test_round_summary(ws):
    rows = {r["round"]: r for r in q(ws, "SELECT * FROM round_summary")}
    assert sorted(rows) == [0, 1, 2]
    assert rows[0]["teacher_id"] == "ckpt0" * 4 and rows[0]["student_id"] == "ckpt1" * 4
    assert rows[1]["student_id"] == "ckpt2" * 4 and rows[2]["student_id"] is None
    assert rows[0]["n_pseudo"] == 4 and rows[1]["n_pseudo"] == 5 and rows[0]["threshold"] == pytest.approx(0.5)
    assert rows[0]["teacher_test_top1"] == 50.0 and rows[0]["student_test_top1"] == 66.7
    assert rows[2]["unlabeled_predictions"] == 6 and rows[2]["predictions"] == 9


def test_views_are_in_the_catalog(ws):
    import duckdb

    con = duckdb.connect(str(ws.root / "catalog.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM label_flips").fetchall()[0][0] > 0
        assert con.execute("SELECT count(*) FROM drift_summary").fetchall() == [(2,)]
    finally:
        con.close()


def test_drift_report(ws):
    r = drift(ws, DriftOptions())
    assert (r.round_a, r.round_b) == (1, 2) and r.flip_rate == pytest.approx(2 / 6)
    assert r.negative_flips == 1 and r.positive_flips == 0
    r = drift(ws, DriftOptions(from_round=0, to_round=1))
    assert r.matrix() == [[1, 1, 0], [1, 1, 0], [1, 0, 1]]
    assert {(t["name_a"], t["name_b"]) for t in r.largest_transitions} == {("a", "b"), ("b", "a"), ("c", "a")}
    with pytest.raises(UnknownRound):
        drift(ws, DriftOptions(from_round=0, to_round=7))
    with pytest.raises(UsageError):
        drift(ws, DriftOptions(from_round=1))


def test_drift_cli_json_and_csv(ws, cli):
    r = cli("drift", "--from", "0", "--to", "1", "-w", ws.root, "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["flip_rate"] == pytest.approx(0.5) and d["summary"]["selection_entered"] == 1
    r = cli("drift", "--from", "0", "--to", "1", "-w", ws.root, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 6 and sum(int(x["images"]) for x in rows) == 6
    r = cli("drift", "-w", ws.root)
    assert r.exit_code == 0 and "flip rate" in r.stdout


def test_rounds(ws, cli):
    rows = rounds(ws)
    assert [r.round for r in rows] == [0, 1, 2]
    assert rows[0].flip_rate_to_next == pytest.approx(0.5)
    view = [c for (c, *_) in ws.rows("DESCRIBE round_summary")]
    assert [f.name for f in dataclasses.fields(RoundRow)] == [*view, "flip_rate_to_next"]  # one row, one shape
    r = cli("rounds", "-w", ws.root, "--json")
    assert json.loads(r.stdout)[1]["student_id"] == "ckpt2" * 4
    assert cli("rounds", "-w", ws.root).exit_code == 0
