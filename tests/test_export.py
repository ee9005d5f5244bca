"""plabel export: each format written and read back against the manifest."""
import csv
import json
import os

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from plabel.export import ExportOptions, export


@pytest.fixture(scope="module")
def selected(tmp_path_factory, mnist_folders):
    """Round 0's manifest with soft labels and copies (a teacher elsewhere, imported)."""
    from plabel.external import ImportOptions, import_predictions
    from plabel.ingest import IngestOptions, ingest
    from plabel.selection import SelectOptions, select
    from plabel.workspace import init_workspace

    root = tmp_path_factory.mktemp("export")
    ws = init_workspace(root / "ws")
    ingest(ws, IngestOptions(source=mnist_folders.train, split="train", workers=1))
    ingest(ws, IngestOptions(source=mnist_folders.unlabeled, split="unlabeled", workers=1))
    ids = [i for (i,) in ws.rows("SELECT image_id FROM images WHERE split = 'unlabeled' ORDER BY image_id")]
    probs = np.random.default_rng(0).dirichlet(np.full(10, 0.3), len(ids))
    pd.DataFrame({"image_id": ids, "probs": list(probs)}).to_parquet(root / "p.parquet")
    import_predictions(ws, ImportOptions(file=root / "p.parquet", round=0, model_name="m"))
    select(ws, SelectOptions(round=0, threshold=0.3, labels="soft", balance="topk"))
    return ws, pq.read_table(ws.manifest_path(0)).to_pylist()


def test_parquet_and_csv_read_back_as_the_manifest(selected, tmp_path):
    ws, manifest = selected
    export(ws, ExportOptions(round=0, out=str(tmp_path / "m.parquet"), format="parquet"))
    export(ws, ExportOptions(round=0, out=str(tmp_path / "m.csv"), format="csv"))
    back = pq.read_table(tmp_path / "m.parquet").to_pylist()
    with open(tmp_path / "m.csv", newline="") as f:
        text = list(csv.DictReader(f))
    names = ws.class_names()
    assert len(back) == len(text) == len(manifest)
    for m, p, c in zip(manifest, back, text, strict=True):
        assert p["image_id"] == c["image_id"] == m["image_id"]
        assert p["target"] == int(c["target"]) == m["target"] and p["target_name"] == names[m["target"]]
        assert p["copies"] == int(c["copies"]) == m["copies"] and p["origin"] == c["origin"] == m["origin"]
        assert os.path.isabs(p["path"]) and os.path.isfile(p["path"])
        if m["target_index"]:
            assert p["target_index"] == m["target_index"] == json.loads(c["target_index"])
            assert p["target_prob"] == pytest.approx(m["target_prob"]) and sum(p["target_prob"]) == pytest.approx(1)


def test_imagefolder_links_every_copy(selected, tmp_path):
    ws, manifest = selected
    r = export(ws, ExportOptions(round=0, out=str(tmp_path / "folder"), format="imagefolder"))
    assert r.files == sum(m["copies"] for m in manifest)
    names = ws.class_names()
    per_class: dict[str, int] = {}
    for m in manifest:
        per_class[names[m["target"]]] = per_class.get(names[m["target"]], 0) + m["copies"]
    folders = [d for d in os.listdir(tmp_path / "folder") if not d.startswith(".")]  # the export's marker file
    assert {d: len(os.listdir(tmp_path / "folder" / d)) for d in folders} == per_class
    link = next((tmp_path / "folder").rglob("*.png"))
    assert link.is_symlink() and link.read_bytes()[:4] == b"\x89PNG"


def test_the_same_manifest_gives_the_same_shards(selected, tmp_path):
    ws, _ = selected
    a = export(ws, ExportOptions(round=0, out=str(tmp_path / "a"), format="wds", shard_size=64))
    b = export(ws, ExportOptions(round=0, out=str(tmp_path / "b"), format="wds", shard_size=64))
    assert a.files == b.files == -(-a.samples // 64)
    for name in os.listdir(tmp_path / "a"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
