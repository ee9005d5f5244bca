"""The commands as people type them, and usage errors that used to write first or pass silently."""
import json

import pytest
import torch

from plabel.workspace import init_workspace
from tests.helpers import tree_digest, write_pngs


def test_infer_select_and_dedup_default_to_the_newest_round(ws, cli):
    r = cli("dedup", "-w", ws.root)
    assert r.exit_code == 0 and "Round 0 (the newest round with predictions" in r.stderr, r.output
    r = cli("select", "--threshold", "0.3", "--json", "-w", ws.root)
    assert r.exit_code == 0 and json.loads(r.stdout)["round"] == 0, r.output
    assert "Round 0 (the newest round with predictions" in r.stderr
    r = cli("infer", "--workers", "0", "--json", "-w", ws.root)
    assert r.exit_code == 0 and json.loads(r.stdout)["round"] == 0, r.output
    assert "Round 0 (the newest trained round" in r.stderr


def test_without_anything_to_default_to(tmp_path, cli):
    init_workspace(tmp_path / "ws")
    for args, message in ((["infer"], "no checkpoint yet"), (["select"], "no round has predictions"),
                          (["dedup"], "no round has predictions")):
        r = cli(*args, "-w", tmp_path / "ws")
        assert r.exit_code == 2 and message in r.stderr, r.output


def test_version(cli):
    r = cli("--version")
    assert r.exit_code == 0 and r.stdout.startswith("plabel ")


@pytest.mark.skipif(torch.cuda.device_count() > 7, reason="needs a machine without an 8th CUDA device")
def test_a_missing_device_writes_nothing(tmp_path, cli, image_folder):
    ws = init_workspace(tmp_path / "ws")
    assert cli("ingest", image_folder, "--split", "train", "--workers", "1", "-w", ws.root).exit_code == 0
    before = tree_digest(ws.root)
    r = cli("train", "--round", "0", "--model", "test_resnet", "--device", "cuda:7", "-w", ws.root)
    assert r.exit_code == 2 and "--device cuda:7" in r.stderr, r.output
    assert tree_digest(ws.root) == before


def test_a_path_listed_twice_with_two_labels(tmp_path, cli):
    write_pngs(tmp_path / "data", 2)
    listing = tmp_path / "data" / "list.csv"
    listing.write_text("path,label\nimg0000.png,cat\nimg0001.png,dog\n./img0000.png,dog\n")
    ws = init_workspace(tmp_path / "ws")
    before = tree_digest(ws.root)
    r = cli("ingest", listing, "--split", "train", "-w", ws.root)
    assert r.exit_code == 2 and "rows 2 and 4" in r.stderr, r.output
    assert tree_digest(ws.root) == before


def test_eval_limit_counts_only_that_many(ws, cli):
    r = cli("eval", "--limit", "7", "--json", "-w", ws.root)
    assert r.exit_code == 0 and json.loads(r.stdout)["n"] == 7, r.output
