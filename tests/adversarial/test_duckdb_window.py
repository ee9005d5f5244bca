"""DuckDB 2.0's window_self_join rewrite drops a Hive partition filter: plabel's connections turn it
off, so a window over one round of a partitioned view counts that round only (docs/sql.md)."""
import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from plabel.external import ImportOptions, import_predictions
from plabel.ingest import ingest
from plabel.workspace import init_workspace

WINDOW = ("SELECT max(c) AS c FROM (SELECT image_id, count(*) OVER (PARTITION BY image_id) c FROM predictions "
          "WHERE round = 0)")
SUM = ("SELECT max(s) AS s FROM (SELECT image_id, sum(confidence) OVER (PARTITION BY image_id) s FROM predictions "
       "WHERE round = 1)")


@pytest.fixture(scope="module")
def two_rounds(tmp_path_factory, mnist_folders):
    root = tmp_path_factory.mktemp("window")
    ws = init_workspace(root / "ws")
    ingest(ws, mnist_folders.train, split="train", workers=1)
    ingest(ws, mnist_folders.unlabeled, split="unlabeled", workers=1)
    ids = [i for (i,) in ws.rows("SELECT image_id FROM images WHERE split = 'unlabeled' ORDER BY image_id")]
    for r in (0, 1):
        probs = np.random.default_rng(r).dirichlet(np.full(10, 0.3), len(ids))
        pd.DataFrame({"image_id": ids, "probs": list(probs)}).to_parquet(root / f"p{r}.parquet")
        import_predictions(ws, root / f"p{r}.parquet", ImportOptions(round=r, model_name=f"m{r}"))
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
