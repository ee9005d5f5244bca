import json

from tests.helpers import tree_digest


def test_init_ingest_sql_roundtrip(cli, tmp_path, image_folder):
    ws = tmp_path / "ws"
    assert cli("init", ws).exit_code == 0
    r = cli("ingest", image_folder, "--split", "train", "-w", ws, "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["added"] == 11 and summary["rejected"] == 2
    r = cli("sql", "SELECT split, count(*) AS n FROM images GROUP BY 1", "--format", "json", "-w", ws)
    assert json.loads(r.stdout) == [{"split": "train", "n": 11}]


def test_reingest_says_nothing_new(cli, tmp_path, image_folder):
    ws = tmp_path / "ws"
    cli("init", ws)
    cli("ingest", image_folder, "--split", "train", "-w", ws)
    r = cli("ingest", image_folder, "--split", "train", "-w", ws)
    assert r.exit_code == 0 and "Nothing new" in r.stderr


def test_sql_refuses_writes_and_changes_nothing(cli, tmp_path, image_folder):
    ws = tmp_path / "ws"
    cli("init", ws)
    cli("ingest", image_folder, "--split", "train", "-w", ws)
    before = tree_digest(ws)
    for q in [
        "DELETE FROM images",
        "INSERT INTO classes VALUES (9, 'x', now())",
        "CREATE TABLE t AS SELECT 1",
        "DROP VIEW images",
        f"COPY (SELECT 1) TO '{ws}/tables/images/evil.parquet'",
        f"ATTACH '{tmp_path}/other.db'",
        "INSTALL httpfs",
        "SELECT 1; DELETE FROM images",
    ]:
        r = cli("sql", q, "-w", ws)
        assert r.exit_code == 2, q
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert tree_digest(ws) == before


def test_sql_cannot_read_outside_the_workspace(cli, tmp_path, image_folder):
    ws = tmp_path / "ws"
    cli("init", ws)
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    r = cli("sql", f"SELECT * FROM read_csv('{secret}')", "-w", ws)
    assert r.exit_code == 2 and "--allow-files" in r.stderr
    r = cli("sql", f"SELECT * FROM read_csv('{secret}')", "-w", ws, "--allow-files", "--format", "csv")
    assert r.exit_code == 0 and r.stdout.splitlines()[-1] == "1"


def test_sql_works_from_any_folder(cli, tmp_path, image_folder, monkeypatch):
    ws = tmp_path / "ws"
    cli("init", ws)
    cli("ingest", image_folder, "--split", "train", "-w", ws)
    monkeypatch.chdir(image_folder)
    r = cli("sql", "SELECT count(*) AS n FROM images", "-w", ws, "--format", "csv")
    assert r.stdout.splitlines() == ['"n"', "11"]
    monkeypatch.setenv("PLABEL_WORKSPACE", str(ws))
    r = cli("sql", "SELECT count(*) AS n FROM aliases", "--format", "csv")
    assert r.stdout.splitlines() == ['"n"', "1"]


def test_sql_output_file_formats(cli, tmp_path, image_folder):
    import pyarrow.parquet as pq

    ws = tmp_path / "ws"
    cli("init", ws)
    cli("ingest", image_folder, "--split", "train", "-w", ws)
    out = tmp_path / "out.parquet"
    r = cli("sql", "SELECT image_id, label FROM images", "-f", "parquet", "-o", out, "-w", ws)
    assert r.exit_code == 0 and pq.read_table(out).num_rows == 11
    r = cli("sql", "SELECT 1", "-f", "parquet", "-w", ws)
    assert r.exit_code == 2 and "--output" in r.stderr


def test_status_json(cli, tmp_path, image_folder):
    ws = tmp_path / "ws"
    cli("init", ws)
    cli("ingest", image_folder, "--split", "train", "-w", ws)
    s = json.loads(cli("status", "-w", ws, "--json").stdout)
    assert s["splits"] == {"train": 11} and s["aliases"] == 1 and s["rejected"] == 2
    assert s["classes"] == ["cat", "dog"]


def test_not_a_workspace_is_a_usage_error(cli, tmp_path):
    r = cli("status", "-w", tmp_path)
    assert r.exit_code == 2 and "not a plabel workspace" in r.stderr


def test_missing_source_is_a_usage_error(cli, tmp_path):
    ws = tmp_path / "ws"
    cli("init", ws)
    r = cli("ingest", tmp_path / "nope", "--split", "train", "-w", ws)
    assert r.exit_code == 2 and "no such file" in r.stderr
