"""plabel report: sections, numbers against the tables, self-containment, size limits."""
import json
import re
import shutil
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from plabel.dedup import DedupOptions, dedup
from plabel.infer import InferOptions, infer
from plabel.report import write_report
from plabel.selection import SelectOptions, select
from plabel.train import TrainOptions, train
from plabel.workspace import init_workspace, open_workspace
from tests.tables import add_classes, add_images, add_predictions, iid, three_rounds
from tests.test_train import FAST, make_ws


class Cells(HTMLParser):
    """Collects the cells of the tables with an id, and the plot containers."""

    def __init__(self):
        super().__init__()
        self.tables, self.plots, self.ids = {}, {}, set()
        self._table = self._plot = None
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "table" and "id" in a:
            self._table = a["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""
        elif tag == "div" and a.get("class") == "plot":
            self._plot = a["id"]
            self.plots[self._plot] = False
        elif tag == "svg" and self._plot:
            self.plots[self._plot] = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "div" and self._plot:
            self._plot = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def parse(path) -> Cells:
    p = Cells()
    p.feed(Path(path).read_text())
    return p


@pytest.fixture(scope="module")
def hand_built(tmp_path_factory):
    ws = init_workspace(tmp_path_factory.mktemp("report") / "ws")
    three_rounds(ws)
    return ws


def test_sections_plots_and_self_containment(hand_built, tmp_path):
    r = write_report(hand_built, output=tmp_path / "r.html")
    html = Path(r.path).read_text()
    p = parse(r.path)
    for section in ("overview", "round-0", "round-1", "round-2", "drift", "lineage"):
        assert section in p.ids and section in r.sections
    for plot in ("plot-accuracy", "plot-confidence-0", "plot-confidence-classes-0", "plot-funnel-0",
                 "plot-balance-0", "plot-transitions"):
        assert p.plots.get(plot), plot
    assert "samples-0" in p.ids and "duplicates-0" in p.ids
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)  # nothing fetched to view it
    assert "<script" not in html and "<link" not in html
    assert r.bytes == len(html.encode())


def test_numbers_match_the_tables(hand_built, tmp_path):
    r = write_report(hand_built, output=tmp_path / "r.html")
    p = parse(r.path)
    funnel = p.tables["funnel-table-0"][1:]
    expected = hand_built.rows(
        "SELECT c.name, s.predicted, s.above_threshold, s.after_dedup, s.selected, s.copies "
        "FROM selection_classes s JOIN classes c USING (class_id) WHERE s.round = 0 ORDER BY s.class_id"
    )
    assert [row[:6] for row in funnel] == [[str(x) for x in e] for e in expected]
    rounds = {row[0]: row for row in p.tables["rounds-table"][1:]}
    assert rounds["0"][2] == "50" and rounds["1"][2] == "66.7" and rounds["0"][5] == "4"
    pool_used = hand_built.scalar("SELECT n_pseudo / unlabeled_predictions FROM round_summary WHERE round = 0")
    assert rounds["0"][6] == f"{pool_used:.4g}" and rounds["0"][4] == "-"  # no held-out train images
    lineage = {row[0]: row for row in p.tables["lineage-table"][1:]}
    manifest_hash = hand_built.scalar("SELECT manifest_hash FROM selections WHERE round = 1")
    assert lineage["1"][8] == manifest_hash and lineage["1"][12] == "ckpt2" * 4
    # drift between the last two rounds: u3 b->c and u6 a->c; v1 is the one negative flip
    moves = {(row[0], row[1]): row[2] for row in p.tables["transitions-table"][1:]}
    assert moves == {("b", "c"): "1", ("a", "c"): "1"}
    assert len(p.tables["negative-flips-table"]) == 2  # header + v1


def test_one_round_only(hand_built, tmp_path):
    r = write_report(hand_built, round=1, output=tmp_path / "r.html")
    assert "round-1" in r.sections and "round-0" not in r.sections


@pytest.mark.slow  # 12 s: a thousand classes' sections
def test_a_thousand_classes_stay_small(tmp_path):
    ws = init_workspace(tmp_path / "ws")
    add_classes(ws, [f"class{i:04d}" for i in range(1000)])
    rows = [(f"u{i:05d}", i % 1000, 0.3 + (i * 37 % 70) / 100) for i in range(20000)]
    add_images(ws, [(iid(n), "unlabeled", None, None) for n, _, _ in rows])
    add_predictions(ws, 0, [(iid(n), c, p) for n, c, p in rows], 1000)
    add_predictions(ws, 1, [(iid(n), (c + (i % 7 == 0)) % 1000, p) for i, (n, c, p) in enumerate(rows)], 1000)
    select(ws, SelectOptions(round=0, per_class=10))
    r = write_report(ws, output=tmp_path / "r.html")
    assert r.bytes < 5_000_000, r.bytes  # the documented limit
    assert any("30 of 1000 classes" in n for n in r.notes)
    html = Path(r.path).read_text()
    assert "50 of 1000 rows shown" in html  # the funnel table is cut, with a note


@pytest.fixture(scope="module")
def real(tmp_path_factory, mnist_folders):
    ws = make_ws(tmp_path_factory.mktemp("real") / "ws", mnist_folders)
    train(ws, TrainOptions(round=0, epochs=6, **FAST))
    infer(ws, InferOptions(round=0, splits=("unlabeled", "test"), embeddings=True, workers=0))
    dedup(ws, DedupOptions(round=0, similarity=0.98))
    select(ws, SelectOptions(round=0, threshold=0.3, per_class=10))
    return ws


def test_sample_grids_show_images_and_withheld_labels(real, tmp_path):
    r = write_report(real, output=tmp_path / "r.html")
    html = Path(r.path).read_text()
    assert html.count("data:image/png;base64,") >= 40
    blocks = re.findall(r'<div class="classblock" data-class="([^"]+)">', html)
    assert len(blocks) == 10
    assert "true: " in html  # the withheld labels of the unlabeled pool
    thresholds = re.search(r'<table id="dedup-thresholds-0">(.*?)</table>', html, re.S).group(1)
    assert thresholds.count("<tr>") == 1 + 4  # header, then pixels and embeddings, in and out of the pool
    assert "calibrated" in thresholds and "given" in thresholds  # --similarity 0.98 was given within the pool
    funnel = re.search(r'<table id="dedup-funnel-0">(.*?)</table>', html, re.S).group(1)
    rows = [re.findall(r"<td>(.*?)</td>", tr) for tr in re.findall(r"<tr>(.*?)</tr>", funnel)]
    removed = sum(int(n) for cells in rows for n in cells[1:])  # the first cell names the class
    excluded = real.rows("SELECT count(DISTINCT image_id) FROM duplicates WHERE round = 0 AND excluded")[0][0]
    assert removed == excluded  # each excluded image under exactly one rule


def test_cli_report_json(real, cli, tmp_path):
    ws = open_workspace(shutil.copytree(real.root, tmp_path / "ws"))
    r = cli("report", "-w", ws.root, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["path"].endswith("reports/report.html") and out["bytes"] > 0 and out["rounds"] == [0]


@pytest.mark.slow
def test_demo_runs_end_to_end_and_writes_the_report(tmp_path):
    from plabel.demo import DEMO_CONFIG, demo

    small = replace(
        DEMO_CONFIG,
        rounds=1,
        student_models=("test_resnet",),
        teacher={"epochs": 2},
        student={"epochs": 1, "unlabeled_ratio": 1.0},
        train={**DEMO_CONFIG.train, "workers": 0},
    )
    r = demo(tmp_path / "demo", seed=0, config=small)
    assert r.images == {"train": 200, "test": 1000, "unlabeled": 3600}
    from plabel.workspace import open_workspace

    ws = open_workspace(r.workspace)  # the pool is flat: no path a reviewer sees tells the withheld label
    pool = ws.rows("SELECT path, true_label FROM images WHERE split = 'unlabeled'")
    assert all(Path(p).parent == tmp_path / "demo" / "data" / "unlabeled" and t is not None for p, t in pool)
    assert [x.round for x in r.rounds] == [0, 1] and r.teacher_test_top1 is not None
    assert Path(r.report).read_text().startswith("<!DOCTYPE html>")
    again = demo(tmp_path / "demo", seed=0, config=small)  # a second call resumes: nothing to do
    assert again.student_test_top1 == r.student_test_top1
