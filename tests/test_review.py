"""Review by people: Label Studio tasks out (as Label Studio imports them) and its JSON export back in."""
import json
import xml.etree.ElementTree as ET
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from plabel.errors import UsageError
from plabel.review import ReviewExportOptions, ReviewImportOptions, export_tasks, import_annotations, label_config
from tests.helpers import tree_digest

LOW_MARGIN = ("SELECT image_id FROM predictions WHERE round = 0 AND split = 'unlabeled' "
              "ORDER BY margin, image_id LIMIT 6")


@pytest.fixture(scope="module")
def base(tmp_path_factory, mnist_folders):
    """Labeled train and an unlabeled pool; round 0's predictions imported (a teacher elsewhere)."""
    from plabel.external import ImportOptions, import_predictions
    from plabel.ingest import IngestOptions, ingest
    from plabel.workspace import init_workspace

    tmp_path = tmp_path_factory.mktemp("review")
    ws = init_workspace(tmp_path / "ws")
    ingest(ws, IngestOptions(source=mnist_folders.train, split="train", workers=1))
    ingest(ws, IngestOptions(source=mnist_folders.unlabeled, split="unlabeled", withheld_labels=True, workers=1))
    ids = [i for (i,) in ws.rows("SELECT image_id FROM images WHERE split = 'unlabeled' ORDER BY image_id")]
    probs = np.random.default_rng(0).dirichlet(np.full(10, 0.5), len(ids))
    pd.DataFrame({"image_id": ids, "probs": list(probs)}).to_parquet(tmp_path / "teacher.parquet")
    import_predictions(ws, ImportOptions(file=tmp_path / "teacher.parquet", round=0, model_name="elsewhere"))
    return ws


@pytest.fixture
def ws(base, tmp_path):
    import shutil

    from plabel.workspace import open_workspace

    copy = open_workspace(shutil.copytree(base.root, tmp_path / "ws"))
    copy.sync_catalog()
    return copy


def annotate(tasks: list[dict], labels: dict[int, list], start: int = 100) -> list[dict]:
    """What Label Studio exports after people labeled the tasks: ids, annotations with who/when."""
    out = []
    for n, task in enumerate(tasks):
        done = []
        for k, (label, cancelled, when) in enumerate(labels.get(n, [])):
            done.append({"id": start + 10 * n + k, "completed_by": {"id": 7, "email": "ann@example.com"},
                         "result": [] if label is None else [{"from_name": "label", "to_name": "image",
                                                              "type": "choices", "value": {"choices": [label]}}],
                         "was_cancelled": cancelled, "ground_truth": False, "lead_time": 3.2,
                         "created_at": when, "updated_at": when, "task": n + 1})
        out.append({"id": n + 1, "data": task["data"], "annotations": done, "predictions": task.get("predictions", []),
                    "project": 3})
    return out


def test_a_review_round_trip(ws, tmp_path, mnist_folders):
    from plabel.selection import SelectOptions, select

    served = mnist_folders.unlabeled.parent  # Label Studio's LOCAL_FILES_DOCUMENT_ROOT
    r = export_tasks(ws, ReviewExportOptions(round=0, query=LOW_MARGIN, out=str(tmp_path / "ls" / "tasks.json"),
                                             document_root=str(served)))
    assert (r.tasks, r.predicted, r.media) == (6, 6, 0)
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    lowest = [i for (i,) in ws.rows(LOW_MARGIN)]
    assert [t["data"]["image_id"] for t in tasks] == lowest
    for t in tasks:
        url = t["data"]["image"]
        assert url.startswith("/data/local-files/?d=")
        assert (served / unquote(url[len("/data/local-files/?d="):])).is_file()
        (p,) = t["predictions"]
        assert p["model_version"].endswith("(elsewhere)") and 0 < p["score"] <= 1
        assert p["result"][0]["value"]["choices"][0] in ws.class_names()
    config = ET.fromstring((tmp_path / "ls" / "tasks.label-config.xml").read_text())
    assert [c.get("value") for c in config.iter("Choice")] == ws.class_names()

    proposal = [t["predictions"][0]["result"][0]["value"]["choices"][0] for t in tasks]
    other = next(c for c in ws.class_names() if c != proposal[1])
    exported = annotate(tasks, {
        0: [(proposal[0], False, "2026-11-30T10:00:00.000000Z")],  # agrees
        1: [("9", False, "2026-11-30T10:00:00Z"), (other, False, "2026-11-30T11:00:00Z")],  # the newest wins
        2: [("3", True, "2026-11-30T10:00:00Z")],  # cancelled
        3: [(None, False, "2026-11-30T10:00:00Z")],  # submitted without a choice
    })  # tasks 4 and 5: nobody
    (tmp_path / "export.json").write_text(json.dumps(exported))
    got = import_annotations(ws, ReviewImportOptions(file=tmp_path / "export.json"))
    assert (got.labeled, got.unannotated, got.changed) == (2, 4, int(other != proposal[1]))
    rows = ws.rows("SELECT image_id, label, predicted, task_id, annotation_id, annotator, annotated_at::VARCHAR "
                   "FROM reviews ORDER BY task_id")
    assert rows[0][:6] == (lowest[0], proposal[0], proposal[0], "1", "100", "ann@example.com")
    assert rows[1][:5] == (lowest[1], other, proposal[1], "2", "111") and rows[1][6].startswith("2026-11-30 11:00")
    assert import_annotations(ws, ReviewImportOptions(file=tmp_path / "export.json")).already_imported

    # the next selection: reviewed images are labeled rows with their reviewed class, never pseudo labels
    s = select(ws, SelectOptions(round=0, threshold=0.0, balance="none"))
    m = pq.read_table(ws.manifest_path(0)).to_pylist()
    names = ws.class_names()
    for image_id, label, *_ in rows:
        mine = [x for x in m if x["image_id"] == image_id]
        assert [(x["origin"], names[x["target"]]) for x in mine] == [("labeled", label)]
    assert s.n_labeled == 200 + 2


def test_a_shard_member_is_written_out_for_review(tmp_path, mnist_folders):
    import tarfile

    from plabel.external import ImportOptions, import_predictions
    from plabel.ingest import IngestOptions, ingest
    from plabel.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws")
    ingest(ws, IngestOptions(source=mnist_folders.train, split="train", workers=1))
    files = sorted(mnist_folders.unlabeled.rglob("*.png"))[:3]
    with tarfile.open(tmp_path / "pool.tar", "w") as tar:
        for f in files:
            tar.add(f, arcname=f"k/{f.name}")
    ingest(ws, IngestOptions(source=tmp_path / "pool.tar", split="unlabeled", workers=1))
    ids = [i for (i,) in ws.rows("SELECT image_id FROM images WHERE split = 'unlabeled'")]
    pd.DataFrame({"image_id": ids, "probs": list(np.full((3, 10), 0.1))}).to_parquet(tmp_path / "p.parquet")
    import_predictions(ws, ImportOptions(file=tmp_path / "p.parquet", round=0, model_name="m"))
    r = export_tasks(ws, ReviewExportOptions(round=0, query="SELECT image_id FROM images WHERE split = 'unlabeled'",
                                             out=str(tmp_path / "t.json"), url_prefix="http://files/",
                                             document_root=str(tmp_path)))
    assert r.media == 3
    tasks = json.loads((tmp_path / "t.json").read_text())
    served = {(tmp_path / t["data"]["image"][len("http://files/"):]).read_bytes() for t in tasks}
    assert served == {f.read_bytes() for f in files}


def test_a_pool_labeled_only_in_review_makes_round_0s_manifest(tmp_path, mnist_folders):
    """Cold start: classes from init, no train split, people label the pool: round 0 trains on that."""
    from plabel.external import ImportOptions, import_predictions
    from plabel.ingest import IngestOptions, ingest
    from plabel.manifest import labeled_manifest
    from plabel.workspace import init_workspace

    names = [str(c) for c in range(10)]
    ws = init_workspace(tmp_path / "ws", classes=names)
    assert ws.class_names() == names
    with pytest.raises(UsageError, match="no labeled images"):
        labeled_manifest(ws)
    ingest(ws, IngestOptions(source=mnist_folders.unlabeled, split="unlabeled", workers=1))
    ids = sorted(i for (i,) in ws.rows("SELECT image_id FROM images"))[:8]
    pd.DataFrame({"image_id": ids, "probs": list(np.full((8, 10), 0.1))}).to_parquet(tmp_path / "p.parquet")
    import_predictions(ws, ImportOptions(file=tmp_path / "p.parquet", round=0, model_name="m"))
    export_tasks(ws, ReviewExportOptions(round=0, query="SELECT image_id FROM predictions",
                                         out=str(tmp_path / "t.json"), document_root=str(mnist_folders.unlabeled)))
    tasks = json.loads((tmp_path / "t.json").read_text())
    (tmp_path / "e.json").write_text(json.dumps(annotate(tasks, {n: [(names[n % 3], False, "2026-11-30T10:00:00Z")]
                                                                 for n in range(len(tasks))})))
    import_annotations(ws, ReviewImportOptions(file=tmp_path / "e.json"))
    m = pq.read_table(labeled_manifest(ws)).to_pylist()
    want = {t["data"]["image_id"]: n % 3 for n, t in enumerate(tasks)}
    assert {x["image_id"]: x["target"] for x in m} == want and {x["origin"] for x in m} == {"labeled"}


def test_label_config_quotes_hostile_class_names():
    names = ['a"b', "<x>&", "it's", "plain"]
    config = ET.fromstring(label_config(names))
    assert [c.get("value") for c in config.iter("Choice")] == names


@pytest.mark.parametrize("case,message", [
    ("not a list", "a list of tasks"),
    ("no image id", "no data.image_id"),
    ("unknown class", "not a class of this workspace"),
    ("unknown image", "not in this workspace"),
    ("bad time", "not an ISO 8601 time"),
    ("twice", "is in two tasks"),
])
def test_bad_exports_write_nothing(ws, tmp_path, case, message):
    image = ws.rows("SELECT image_id FROM images WHERE split = 'unlabeled' LIMIT 1")[0][0]
    task = {"data": {"image_id": image}}
    one = annotate([task], {0: [("3", False, "2026-11-30T10:00:00Z")]})
    docs = {
        "not a list": {"tasks": one},
        "no image id": annotate([{"data": {"image": "x.png"}}], {0: [("3", False, "2026-11-30T10:00:00Z")]}),
        "unknown class": annotate([task], {0: [("cat", False, "2026-11-30T10:00:00Z")]}),
        "unknown image": annotate([{"data": {"image_id": "f" * 32}}], {0: [("3", False, "2026-11-30T10:00:00Z")]}),
        "bad time": annotate([task], {0: [("3", False, "yesterday")]}),
        "twice": one + one,
    }
    (tmp_path / "bad.json").write_text(json.dumps(docs[case]))
    before = tree_digest(ws.root)
    with pytest.raises(UsageError, match=message):
        import_annotations(ws, ReviewImportOptions(file=tmp_path / "bad.json"))
    assert tree_digest(ws.root) == before


def test_bad_review_exports(ws, tmp_path):
    before = tree_digest(ws.root)
    for q, message in [("SELECT 1 AS x", "must return an image_id column"),
                       ("SELECT image_id FROM images WHERE false", "picked no images"),
                       ("DELETE FROM images", "read-only|only SELECT"),
                       ("SELECT 'f' || repeat('0', 31) AS image_id", "not in the workspace")]:
        with pytest.raises(UsageError, match=message):
            export_tasks(ws, ReviewExportOptions(round=0, query=q, out=str(tmp_path / "t.json")))
    with pytest.raises(UsageError, match="outside `document_root`"):
        export_tasks(ws, ReviewExportOptions(round=0, query=LOW_MARGIN, out=str(tmp_path / "t.json"),
                                             document_root=str(tmp_path / "elsewhere")))
    assert tree_digest(ws.root) == before and not (tmp_path / "t.json").exists()
