"""DuckDB 2.0's window_self_join rewrite drops a Hive partition filter: plabel's connections turn it
off, so a window over one round of a partitioned view counts that round only (docs/sql.md)."""
import json

import duckdb
import numpy as np
import pytest

from plabel.workspace import init_workspace
from tests.tables import add_predictions

WINDOW = ("SELECT max(c) AS c FROM (SELECT image_id, count(*) OVER (PARTITION BY image_id) c FROM predictions "
          "WHERE round = 0)")
SUM = ("SELECT max(s) AS s FROM (SELECT image_id, sum(confidence) OVER (PARTITION BY image_id) s FROM predictions "
       "WHERE round = 1)")


@pytest.fixture(scope="module")
def two_rounds(tmp_path_factory):
    """Two rounds of predictions over the same 12 images (no model needed: the tables as written)."""
    ws = init_workspace(tmp_path_factory.mktemp("window") / "ws", classes=["a", "b", "c"])
    rng = np.random.default_rng(0)
    ids = [f"{k:032x}" for k in range(12)]
    for r in (0, 1):
        add_predictions(ws, r, [(i, int(rng.integers(3)), float(rng.uniform(0.4, 0.9))) for i in ids], 3)
    return ws


def test_a_window_over_one_round_counts_that_round(two_rounds, cli):
    ws = two_rounds
    assert ws.scalar("SELECT max(n) FROM (SELECT count(*) n FROM predictions WHERE round = 0 GROUP BY image_id)") == 1
    r = cli("sql", WINDOW, "--format", "json", "-w", ws.root)
    assert r.exit_code == 0 and json.loads(r.stdout) == [{"c": 1}], r.output
    with ws.connect() as con:
        assert con.execute(WINDOW).fetchall() == [(1,)]
        assert con.execute(SUM).fetchall() == con.execute(
            "SELECT max(confidence) FROM predictions WHERE round = 1").fetchall()


def test_the_upstream_reproduction_in_the_docs_still_holds(two_rounds):
    """What docs/sql.md shows plain DuckDB answering: when an upgrade fixes it, this test says so,
    and the setting can go."""
    folder = two_rounds.table_dir("predictions")
    scan = f"read_parquet('{folder}/round=*/*.parquet', hive_partitioning = true)"
    query = f"SELECT max(c) FROM (SELECT image_id, count(*) OVER (PARTITION BY image_id) c FROM {scan} WHERE round = 0)"
    plain = duckdb.connect()
    assert plain.execute(query).fetchall() == [(2,)], "DuckDB answers correctly now: drop DISABLED_OPTIMIZERS"
    plain.execute("SET disabled_optimizers = 'window_self_join'")
    assert plain.execute(query).fetchall() == [(1,)]


def test_the_setting_cannot_be_lifted_from_plabel_sql(two_rounds, cli):
    r = cli("sql", "SET disabled_optimizers = ''", "-w", two_rounds.root)
    assert r.exit_code == 2, r.output
