"""Reviews and imported predictions keep rounds consistent: held-out images never train, new
reviews make a new selection, replaced predictions take what was made from them along, and files
from Label Studio or elsewhere are parsed strictly (one line, exit 2, nothing written)."""
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from plabel.dedup import DedupOptions, dedup
from plabel.review import ReviewExportOptions, ReviewImportOptions, export_tasks
from plabel.selection import SelectOptions, select
from tests.helpers import tree_digest

TEST_IMAGES = "SELECT image_id FROM images WHERE split = 'test' ORDER BY image_id LIMIT 3"
POOL = "SELECT image_id FROM predictions WHERE round = 0 AND split = 'unlabeled' ORDER BY margin, image_id LIMIT 4"


def _annotated(tasks: list[dict], label: str, real_format: bool = False) -> list[dict]:
    """What Label Studio exports once each task is labeled `label`. `real_format`: as Label Studio
    1.23 writes it (predictions as ids, the prediction object under annotations[].prediction)."""
    out = []
    for n, t in enumerate(tasks, start=1):
        prediction = (t.get("predictions") or [{}])[0]
        annotation = {"id": 100 + n, "completed_by": 1, "was_cancelled": False,
                      "result": [{"from_name": "label", "to_name": "image", "type": "choices",
                                  "value": {"choices": [label]}}],
                      "created_at": "2026-12-01T10:00:00.000000Z", "updated_at": "2026-12-01T10:00:00.000000Z"}
        task = {"id": n, "data": t["data"], "annotations": [annotation]}
        if real_format:
            annotation["prediction"] = {"id": 50 + n, **prediction}
            task["predictions"] = [50 + n]
        else:
            task["predictions"] = t.get("predictions", [])
        out.append(task)
    return out


def _write(path, doc) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


def test_held_out_images_never_enter_a_manifest(ws, tmp_path, cli):
    before = tree_digest(ws.root)
    r = cli("review", "export", tmp_path / "t.json", "--round", "0", "--query", TEST_IMAGES, "-w", ws.root)
    assert r.exit_code == 2 and "held-out" in r.stderr and "--audit" in r.stderr, r.output
    assert tree_digest(ws.root) == before and not (tmp_path / "t.json").exists()
    r = cli("review", "export", tmp_path / "t.json", "--round", "0", "--query", TEST_IMAGES, "--audit", "-w", ws.root)
    assert r.exit_code == 0 and "3 held-out images marked as an audit" in r.stderr, r.output
    tasks = json.loads((tmp_path / "t.json").read_text())
    assert all(t["data"]["plabel_audit"] for t in tasks)
    r = cli("review", "import", _write(tmp_path / "done.json", _annotated(tasks, "3")), "-w", ws.root)
    assert r.exit_code == 0 and "3 are held-out images" in r.stderr, r.output
    test_ids = {t["data"]["image_id"] for t in tasks}
    assert cli("select", "--round", "0", "--threshold", "0.3", "-w", ws.root).exit_code == 0
    manifest = set(pq.read_table(ws.manifest_path(0)).column("image_id").to_pylist())
    assert not manifest & test_ids
    crafted = tmp_path / "crafted.parquet"  # a manifest made by hand that lists them is refused by train
    pq.write_table(_with(ws, test_ids), crafted)
    before = tree_digest(ws.root)
    r = cli("train", "--round", "1", "--manifest", crafted, "--epochs", "1", "--workers", "0", "-w", ws.root)
    assert r.exit_code == 2 and "held-out" in r.stderr, r.output
    assert tree_digest(ws.root) == before


def _with(ws, ids):
    """Round 0's manifest with the given images appended as labeled rows."""
    import pyarrow as pa

    t = pq.read_table(ws.manifest_path(0))
    extra = [{**t.slice(0, 1).to_pylist()[0], "image_id": i, "origin": "labeled"} for i in sorted(ids)]
    return pa.concat_tables([t, pa.Table.from_pylist(extra, schema=t.schema)])


def test_new_reviews_make_a_new_selection(ws, tmp_path, cli):
    first = json.loads(cli("select", "--round", "0", "--threshold", "0.3", "--json", "-w", ws.root).stdout)
    export_tasks(ws, ReviewExportOptions(round=0, query=POOL, out=str(tmp_path / "t.json")))
    tasks = json.loads((tmp_path / "t.json").read_text())
    assert cli("review", "import", _write(tmp_path / "d.json", _annotated(tasks, "7")), "-w", ws.root).exit_code == 0
    r = cli("select", "--round", "0", "--threshold", "0.3", "--json", "-w", ws.root)
    assert r.exit_code == 2 and "--overwrite" in r.stderr, r.output  # not "already selected": the inputs changed
    second = json.loads(cli("select", "--round", "0", "--threshold", "0.3", "--overwrite", "--json",
                            "-w", ws.root).stdout)
    assert second["selection_id"] != first["selection_id"] and not second["already_selected"]
    rows = pq.read_table(ws.manifest_path(0)).to_pylist()
    reviewed = {t["data"]["image_id"] for t in tasks}
    assert {r["image_id"] for r in rows if r["origin"] == "labeled"} >= reviewed
    assert all(r["target"] == 7 for r in rows if r["image_id"] in reviewed)


@pytest.mark.parametrize("real_format", [True, False])
def test_the_proposal_is_read_from_real_label_studio_exports(ws, tmp_path, real_format):
    from plabel.review import import_annotations

    export_tasks(ws, ReviewExportOptions(round=0, query=POOL, out=str(tmp_path / "t.json")))
    tasks = json.loads((tmp_path / "t.json").read_text())
    annotated = _write(tmp_path / "d.json", _annotated(tasks, "7", real_format))
    r = import_annotations(ws, ReviewImportOptions(file=annotated))
    proposed = [t["predictions"][0]["result"][0]["value"]["choices"][0] for t in tasks]
    assert r.changed == sum(p != "7" for p in proposed) > 0
    rows = ws.rows("SELECT predicted, model_version FROM reviews ORDER BY task_id")
    assert [p for p, _ in rows] == proposed and all(v and v.endswith(")") for _, v in rows)
    for t in tasks:  # with no prediction object at all, the proposal written into the task's data
        t.pop("predictions")
    r = import_annotations(ws, ReviewImportOptions(file=_write(tmp_path / "e.json", [{**x, "predictions": []} for x in
                                                           _annotated(tasks, "6")])))
    assert r.changed == sum(p != "6" for p in proposed)


BAD_EXPORTS = {
    "result of strings": {"result": ["x"]},
    "result an object": {"result": {"a": 1}},
    "a null in result": {"result": [None]},
    "choices a string": {"result": [{"from_name": "label", "type": "choices", "value": {"choices": "ok"}}]},
    "choices of numbers": {"result": [{"from_name": "label", "type": "choices", "value": {"choices": [3]}}]},
    "a time past year 9999 in UTC": {"updated_at": "9999-12-31T23:59:59-05:00"},
    "a time that is not one": {"updated_at": "yesterday"},
}


@pytest.mark.parametrize("case", [*BAD_EXPORTS, "annotations a number", "predictions an object"])
def test_malformed_label_studio_exports(ws, tmp_path, cli, case):
    export_tasks(ws, ReviewExportOptions(round=0, query=POOL, out=str(tmp_path / "t.json")))
    doc = _annotated(json.loads((tmp_path / "t.json").read_text()), "7")
    if case == "annotations a number":
        doc[1]["annotations"] = 5
    elif case == "predictions an object":
        doc[1]["predictions"] = {"id": 1}
    else:
        doc[1]["annotations"][0].update(BAD_EXPORTS[case])
    before = tree_digest(ws.root)
    r = cli("review", "import", _write(tmp_path / "bad.json", doc), "-w", ws.root)
    assert r.exit_code == 2 and "task 2" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.output
    assert tree_digest(ws.root) == before
    assert cli("sql", "SELECT * FROM reviews", "-w", ws.root).exit_code == 0


def _predictions(ws, tmp_path, name: str, cells: list) -> str:
    ids = [i for (i,) in ws.rows("SELECT image_id FROM images WHERE split = 'unlabeled' ORDER BY image_id")]
    path = tmp_path / name
    good = "[" + " ".join(["0.1"] * 10) + "]"
    frame = pd.DataFrame({"image_id": ids, "probs": [good] * len(ids)})
    for k, v in enumerate(cells):
        frame.loc[k + 3, "probs"] = v
    frame.to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize("cell", ["[0.5 abc 0.3 0.2 0 0 0 0 0 0]", "=1+2*0.1", "[0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 "
                                  "0x1]", "[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 1_0]"])
def test_a_probability_cell_that_is_not_numbers(ws, tmp_path, cli, cell):
    file = _predictions(ws, tmp_path, "p.csv", [cell])
    before = tree_digest(ws.root)
    r = cli("import-predictions", file, "--round", "1", "--model-name", "m", "-w", ws.root)
    assert r.exit_code == 2 and "row 4" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.output
    assert tree_digest(ws.root) == before


@pytest.mark.parametrize("index", [1.7, float("inf"), float("nan"), "x"])
def test_a_class_index_that_is_not_a_whole_number(ws, tmp_path, cli, index):
    ids = [i for (i,) in ws.rows("SELECT image_id FROM images WHERE split = 'unlabeled' ORDER BY image_id")]
    frame = pd.DataFrame({"image_id": ids, "prob": [[0.6, 0.3]] * len(ids), "index": [[1, 2]] * len(ids)})
    frame.at[2, "index"] = [index, 2] if index != "x" else ["x", 2]
    frame.to_json(tmp_path / "p.json", orient="records")
    before = tree_digest(ws.root)
    r = cli("import-predictions", tmp_path / "p.json", "--round", "1", "--model-name", "m", "-w", ws.root)
    assert r.exit_code == 2 and "row 3" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.output
    assert tree_digest(ws.root) == before


@pytest.mark.parametrize("round_, says", [("99999999999", "2147483647"), ("5", "rounds 2..4")])
def test_rounds_out_of_reach(ws, tmp_path, cli, round_, says):
    """A round the partition cannot hold; a round that leaves earlier rounds empty (0 has predictions,
    1 is the next)."""
    assert cli("import-predictions", _predictions(ws, tmp_path, "ok.csv", []), "--round", "1", "--model-name", "m",
               "-w", ws.root).exit_code == 0
    before = tree_digest(ws.root)
    r = cli("import-predictions", _predictions(ws, tmp_path, "ok2.csv", []), "--round", round_, "--model-name", "m",
            "-w", ws.root)
    assert r.exit_code == 2 and says in r.stderr, r.output
    assert tree_digest(ws.root) == before


def test_replacing_predictions_removes_what_was_made_from_them(ws, tmp_path, cli):
    dedup(ws, DedupOptions(round=0))
    select(ws, SelectOptions(round=0, threshold=0.3))
    for name in ("duplicates", "selections", "manifests", "embeddings"):
        assert ws.round_dir(name, 0).exists(), name
    file = _predictions(ws, tmp_path, "p.csv", [])
    r = cli("import-predictions", file, "--round", "0", "--model-name", "m", "--overwrite", "-w", ws.root)
    assert r.exit_code == 0, r.output
    assert "Removed round 0's selections, selection_classes, manifests, duplicates, dedup_thresholds, embeddings" \
        in r.stderr
    for name in ("duplicates", "selections", "manifests", "embeddings", "selection_classes", "dedup_thresholds"):
        assert not ws.round_dir(name, 0).exists(), name
    before = tree_digest(ws.root)
    r = cli("train", "--round", "1", "--epochs", "1", "--workers", "0", "-w", ws.root)
    assert r.exit_code == 2 and "manifest" in r.stderr, r.output  # never the replaced predictions' pseudo labels
    assert tree_digest(ws.root) == before
    r = cli("import-predictions", _predictions(ws, tmp_path, "q.csv", ["[" + " ".join(["0.05"] * 10) + "]"]),
            "--round", "0", "--model-name", "m2", "--overwrite", "-w", ws.root)
    assert r.exit_code == 0 and "external checkpoint" in r.stderr, r.output
    teachers = ws.rows("SELECT DISTINCT checkpoint_id FROM predictions WHERE round = 0")
    externals = ws.rows("SELECT checkpoint_id FROM checkpoints WHERE round = 0 AND kind = 'external'")
    assert teachers == externals and len(teachers) == 1
    assert ws.scalar("SELECT count(*) FROM round_summary WHERE round = 0") == 1


def test_infer_overwrite_removes_the_selection_too(ws, cli):
    select(ws, SelectOptions(round=0, threshold=0.3))
    r = cli("infer", "--round", "0", "--overwrite", "--workers", "0", "-w", ws.root)
    assert r.exit_code == 0 and "Removed round 0's selections" in r.stderr, r.output
    assert not ws.round_dir("manifests", 0).exists() and ws.has_round("predictions", 0)
