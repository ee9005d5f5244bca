"""Outputs never touch the workspace: export and review export refuse OUT that is the workspace,
lies inside it or holds it (links resolved), and --overwrite replaces only an earlier export."""
import os

import pytest

from plabel.selection import SelectOptions, select
from tests.helpers import tree_digest

FORMATS = ("csv", "parquet", "imagefolder", "wds")


@pytest.fixture
def selected(ws):
    select(ws, SelectOptions(round=0, threshold=0.3))
    return ws


def _inside(ws, tmp_path):
    """Every way an OUT can be the workspace or be inside it, and one that holds it."""
    link = tmp_path / "link-to-tables"
    link.symlink_to(ws.root / "tables")
    return [ws.root, ws.root / "tables", ws.root / "tables" / "images" / "part-zz.parquet", link / "x.csv",
            ws.root / "checkpoints", ws.root.parent, link]


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_never_writes_into_or_over_the_workspace(selected, tmp_path, cli, fmt):
    ws = selected
    before = tree_digest(ws.root)
    for out in _inside(ws, tmp_path):
        r = cli("export", out, "--format", fmt, "--overwrite", "-w", ws.root)
        assert r.exit_code == 2 and "workspace" in r.stderr and len(r.stderr.strip().splitlines()) == 1, (out, r.output)
        assert tree_digest(ws.root) == before, out
    assert cli("rounds", "-w", ws.root).exit_code == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_overwrite_replaces_only_an_earlier_export(selected, tmp_path, cli, fmt):
    ws = selected
    theirs = tmp_path / ("theirs.csv" if fmt == "csv" else "theirs.parquet" if fmt == "parquet" else "theirs")
    if fmt in ("csv", "parquet"):
        theirs.write_bytes(b"PAR1 someone's file" if fmt == "parquet" else b"a,b\n1,2\n")
    else:
        (theirs / "keep").mkdir(parents=True)
        (theirs / "keep" / "notes.txt").write_text("mine")
    before = tree_digest(tmp_path)
    r = cli("export", theirs, "--format", fmt, "--overwrite", "-w", ws.root)
    assert r.exit_code == 2 and "not an export of plabel's" in r.stderr, r.output
    assert tree_digest(tmp_path) == before
    ours = tmp_path / f"ours.{fmt}"
    assert cli("export", ours, "--format", fmt, "-w", ws.root).exit_code == 0
    r = cli("export", ours, "--format", fmt, "-w", ws.root)
    assert r.exit_code == 2 and "--overwrite" in r.stderr, r.output
    r = cli("export", ours, "--format", fmt, "--overwrite", "-w", ws.root)
    assert r.exit_code == 0, r.output
    link = tmp_path / f"link.{fmt}"
    link.symlink_to(ours)  # a link is never recognised: its target could be anything
    r = cli("export", link, "--format", fmt, "--overwrite", "-w", ws.root)
    assert r.exit_code == 2 and "not an export of plabel's" in r.stderr, r.output


def test_review_export_never_writes_into_the_workspace(selected, tmp_path, cli):
    ws = selected
    before = tree_digest(ws.root)
    for out in (ws.root / "tasks.json", ws.root / "tables" / "reviews" / "t.json"):
        r = cli("review", "export", out, "--round", "0", "--query", "SELECT image_id FROM predictions LIMIT 2",
                "-w", ws.root)
        assert r.exit_code == 2 and "workspace" in r.stderr, r.output
    assert tree_digest(ws.root) == before
    assert not os.path.exists(ws.root / "tasks.json")
