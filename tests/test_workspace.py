import os
import shutil
import subprocess
import sys

import duckdb
import pytest

from plabel.errors import WorkspaceNotFound
from plabel.ingest import IngestOptions, ingest
from plabel.lock import write_lock
from plabel.workspace import init_workspace, open_workspace


def test_init_creates_catalog_tables_and_config(tmp_path):
    ws = init_workspace(tmp_path / "w")
    assert (ws.root / "plabel.toml").is_file()
    assert (ws.root / "catalog.duckdb").is_file()
    assert ws.tables_dir.is_dir()
    con = duckdb.connect(str(ws.root / "catalog.duckdb"), read_only=True)
    names = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    con.close()
    assert {"images", "predictions", "manifests", "evals"} <= names


def test_init_twice_is_harmless(tmp_path, image_folder):
    """A second init on a workspace with data keeps its rows, its config (with the user's edits)
    and its catalog's views; it only refreshes what a killed first init left undone."""
    ws = init_workspace(tmp_path / "w")
    ingest(ws, IngestOptions(source=image_folder, split="train", workers=0))
    config = ws.root / "plabel.toml"
    config.write_text(config.read_text() + "# my note\n")
    before = (ws.rows("SELECT image_id, split, label FROM images ORDER BY image_id"), config.read_text())
    again = init_workspace(tmp_path / "w")
    assert (again.rows("SELECT image_id, split, label FROM images ORDER BY image_id"), config.read_text()) == before
    assert len(before[0]) > 0 and again.class_names() == ["cat", "dog"]
    assert again.catalog_state() == "fresh"


def test_open_a_folder_that_is_not_a_workspace(tmp_path):
    with pytest.raises(WorkspaceNotFound, match="not a plabel workspace"):
        open_workspace(tmp_path)


def test_environment_variable_names_the_workspace(tmp_path, monkeypatch):
    ws = init_workspace(tmp_path / "w")
    monkeypatch.setenv("PLABEL_WORKSPACE", str(ws.root))
    monkeypatch.chdir(tmp_path)
    assert open_workspace().root == ws.root


def test_moved_workspace_keeps_working(tmp_path, image_folder):
    data_in_ws = tmp_path / "w" / "images"
    shutil.copytree(image_folder, data_in_ws)
    ws = init_workspace(tmp_path / "w")
    ingest(ws, IngestOptions(source=data_in_ws, split="train", workers=1))
    moved = tmp_path / "elsewhere" / "w2"
    moved.parent.mkdir()
    os.rename(ws.root, moved)
    ws2 = open_workspace(moved)
    ws2.sync_catalog()
    con = ws2.connect()
    paths = [r[0] for r in con.execute("SELECT path FROM images").fetchall()]
    assert paths and all(not p.startswith("/") for p in paths)
    assert all(ws2.resolve_path(p).is_file() for p in paths)
    cat = duckdb.connect(str(moved / "catalog.duckdb"), read_only=True)
    assert cat.execute("SELECT count(*) FROM images").fetchone()[0] == len(paths)
    cat.close()


def test_catalog_read_only_shows_the_same_rows(ws, image_folder):
    ingest(ws, IngestOptions(source=image_folder, split="train", workers=1))
    ours = ws.connect().execute("SELECT count(*), count(DISTINCT image_id) FROM images").fetchone()
    cat = duckdb.connect(str(ws.root / "catalog.duckdb"), read_only=True)
    assert cat.execute("SELECT count(*), count(DISTINCT image_id) FROM images").fetchone() == ours
    cat.close()


SECOND_WRITER = """
import sys
from pathlib import Path
from plabel.errors import LockHeld
from plabel.lock import write_lock
try:
    with write_lock(Path(sys.argv[1]), "other"):
        sys.exit(3)
except LockHeld as e:
    print(e)
"""


def test_second_writer_fails_naming_the_holder(ws):
    with write_lock(ws.root, "plabel infer --round 3"):
        r = subprocess.run([sys.executable, "-c", SECOND_WRITER, str(ws.root)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "plabel infer --round 3" in r.stdout and f"pid {os.getpid()}" in r.stdout


def test_second_writer_can_wait(ws):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(ws.root), "1.0"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with write_lock(ws.root, "waiter", timeout=30) as stale:
        assert stale is None  # released cleanly, not stale
    holder.wait()


HOLD = """
import sys, time
from pathlib import Path
from plabel.lock import write_lock
with write_lock(Path(sys.argv[1]), "holder"):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_lock_of_a_killed_process_is_cleared(ws):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(ws.root), "60"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait()
    with write_lock(ws.root, "next") as stale:
        assert stale is not None and stale["command"] == "holder" and stale["pid"] == holder.pid


def test_a_column_added_later_reads_as_null_in_older_files(ws, image_folder):
    """Additive schema evolution: files written before a column existed still read."""
    import pyarrow.parquet as pq

    ingest(ws, IngestOptions(source=image_folder, split="train", workers=1))
    part = next(ws.table_dir("images").glob("*.parquet"))
    pq.write_table(pq.read_table(part).drop_columns(["true_label"]), part)  # as an older version wrote it
    con = ws.connect()
    assert con.execute("SELECT count(*), count(true_label) FROM images").fetchall() == [(11, 0)]
    assert "union_by_name" in ws.view_sql(ws_table("images"))


def ws_table(name):
    from plabel.schema import table

    return table(name)
