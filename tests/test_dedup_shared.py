"""dedup under torchrun: the ranks share the queries of one index; the groups, contamination rows
and calibrated thresholds are those one process writes."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from plabel.ingest import IngestOptions, ingest
from plabel.workspace import open_workspace
from tests.test_distributed import plabel, torchrun
from tests.test_train import make_ws

ROWS = {
    "duplicates": "SELECT * FROM duplicates ORDER BY ALL",
    "dedup_thresholds": "SELECT * FROM dedup_thresholds ORDER BY ALL",
}


@pytest.fixture(scope="module")
def with_copies(tmp_path_factory, mnist_folders):
    """The MNIST set-up plus an unlabeled folder of copies: shifted pool images (groups) and
    shifted val and test images (contamination)."""
    root = tmp_path_factory.mktemp("dedup_shared")
    ws = make_ws(root / "ws", mnist_folders)
    copies = root / "copies"
    copies.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("unlabeled", 15), ("val", 8), ("test", 8)):
        files = sorted(getattr(mnist_folders, split).rglob("*.png"))
        for k, f in enumerate(rng.choice(files, n, replace=False)):
            a = np.asarray(Image.open(f).convert("L"), np.int16)
            a = np.roll(a, 1, axis=1 if split == "unlabeled" else 0)
            Image.fromarray(a.astype(np.uint8)).save(copies / f"{split}-{k}.png")
    ingest(ws, IngestOptions(source=copies, split="unlabeled", workers=1))
    return ws


def rows(ws) -> dict[str, list]:
    ws = open_workspace(ws.root)
    return {name: ws.rows(q) for name, q in ROWS.items()}


@pytest.mark.slow
@pytest.mark.parametrize("index", ["flat", "ivf"])
def test_two_ranks_find_the_rows_one_process_finds(index, with_copies, tmp_path):
    """flat: each rank builds the index; ivf (above --exact-limit): rank 0 trains it and sends it."""
    import shutil

    one, two = (open_workspace(shutil.copytree(with_copies.root, tmp_path / n)) for n in ("one", "two"))
    for ws in (one, two):
        ws.sync_catalog()
    args = ("dedup", "--round", "0", "--json", *(["--exact-limit", "100"] if index == "ivf" else []))
    a = plabel(*args, "-w", one.root)
    assert a.returncode == 0, a.stderr
    r = torchrun(*args, "-w", two.root)
    assert r.returncode == 0, r.stderr[-3000:]
    said_one, said_two = json.loads(a.stdout), json.loads(r.stdout)  # rank 0 alone prints
    assert said_one["model_free"] and said_one["near_members"] > 0 and said_one["contaminated"] > 0
    for key in ("near_members", "near_groups", "contaminated", "excluded", "thresholds"):
        assert said_two[key] == said_one[key], key
    assert rows(two) == rows(one)
    assert len(list(two.round_dir("duplicates", 0).glob("*.parquet"))) == 1  # written once, by rank 0
