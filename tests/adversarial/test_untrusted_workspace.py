"""A workspace from someone else: links, foreign or broken catalogs, crafted rows; readers never write."""
import json
import os
import shutil

import duckdb
import pyarrow.parquet as pq

from plabel.catalog import CATALOG_FILE
from tests.helpers import tree_digest


def test_a_lock_file_that_is_a_link_is_refused_not_truncated(ws, cli, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (ws.root / ".plabel.lock").unlink()
    (ws.root / ".plabel.lock").symlink_to(victim)
    r = cli("select", "--round", "0", "--threshold", "0.1", "-w", ws.root)
    assert r.exit_code == 2 and "symbolic link" in r.stderr, r.output
    assert victim.read_text() == "precious"


def _other_database(path):
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE precious AS SELECT 42 AS answer")
    con.execute("CREATE VIEW mine AS SELECT 1 AS one")
    con.close()


def test_a_catalog_that_is_a_link_is_never_touched(ws, cli, tmp_path):
    other = tmp_path / "other.duckdb"
    _other_database(other)
    before = other.read_bytes()
    (ws.root / CATALOG_FILE).unlink()
    (ws.root / CATALOG_FILE).symlink_to(other)
    r = cli("select", "--round", "0", "--threshold", "0.1", "-w", ws.root)  # a writer
    assert r.exit_code == 0, r.output
    r = cli("status", "--json", "-w", ws.root)
    assert json.loads(r.stdout)["catalog"] == "foreign"
    assert other.read_bytes() == before


def test_a_catalog_that_is_another_database_is_never_touched(ws, cli):
    path = ws.root / CATALOG_FILE
    path.unlink()
    _other_database(path)
    before = path.read_bytes()
    assert cli("select", "--round", "0", "--threshold", "0.1", "-w", ws.root).exit_code == 0
    assert path.read_bytes() == before
    r = cli("status", "-w", ws.root)
    assert "catalog.duckdb is foreign" in r.stderr


def test_a_hard_link_to_the_catalog_is_not_ours(ws, cli, tmp_path):
    os.link(ws.root / CATALOG_FILE, tmp_path / "elsewhere.duckdb")
    before = (tmp_path / "elsewhere.duckdb").read_bytes()
    (ws.root / ".catalog-state").unlink()  # make it look stale
    assert cli("select", "--round", "0", "--threshold", "0.1", "-w", ws.root).exit_code == 0
    assert (tmp_path / "elsewhere.duckdb").read_bytes() == before


def test_a_corrupt_catalog_is_reported_then_kept_aside_and_rebuilt(ws, cli):
    path = ws.root / CATALOG_FILE
    path.write_bytes(b"not a database" * 100)
    r = cli("status", "--json", "-w", ws.root)
    assert json.loads(r.stdout)["catalog"] == "corrupt"
    assert cli("init", ws.root).exit_code == 0  # a writer: rebuilds it
    assert json.loads(cli("status", "--json", "-w", ws.root).stdout)["catalog"] == "fresh"
    assert [p.name for p in ws.root.glob("catalog.duckdb.corrupt-*")]
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT count(*) FROM predictions").fetchone()[0] == 200
    con.close()


def test_readers_never_write(ws, cli, tmp_path):
    """A copied workspace has a stale catalog: sql and status leave it for the next writer."""
    copy = shutil.copytree(ws.root, tmp_path / "copy")
    before = tree_digest(copy)
    for args in (["status"], ["sql", "SELECT count(*) FROM images"], ["rounds"], ["drift", "--from", "0", "--to", "0"]):
        cli(*args, "-w", copy)
    assert tree_digest(copy) == before
    assert json.loads(cli("status", "--json", "-w", copy).stdout)["catalog"] == "stale"
    r = cli("sql", "SELECT count(*) AS n FROM predictions", "--format", "json", "-w", copy)
    assert json.loads(r.stdout) == [{"n": 200}]  # in-memory views read the copy's own files


def test_a_crafted_checkpoint_id_cannot_lead_outside(ws, cli, tmp_path):
    ckpt_file = next(ws.table_dir("checkpoints").glob("*.parquet"))
    t = pq.read_table(ckpt_file)
    real = t.column("checkpoint_id")[0].as_py()
    outside = tmp_path / "outside" / real
    shutil.copytree(ws.checkpoints_dir / real, outside)
    crafted = t.set_column(t.schema.get_field_index("checkpoint_id"), "checkpoint_id",
                           [[f"../../outside/{real}"]])
    pq.write_table(crafted, ckpt_file)
    r = cli("eval", "--checkpoint", "latest", "-w", ws.root)
    assert r.exit_code == 1 and "invalid id" in r.stderr, r.output


def test_a_listing_cannot_reach_outside_through_a_linked_folder(ws, cli, tmp_path):
    from tests.helpers import write_pngs

    outside = tmp_path / "secret"
    write_pngs(outside, 2)
    listing_dir = tmp_path / "listing"
    listing_dir.mkdir()
    (listing_dir / "innocent").symlink_to(outside)
    (listing_dir / "list.csv").write_text("path,label\ninnocent/img0000.png,0\n")
    before = tree_digest(ws.root)
    r = cli("ingest", listing_dir / "list.csv", "--split", "train", "-w", ws.root)
    assert r.exit_code == 2 and "escapes the listing's folder" in r.stderr, r.output
    assert tree_digest(ws.root) == before
