"""Every cookbook query (schemas/cookbook/, docs/cookbook.md) runs, read-only, against the
three-round workspace and returns rows."""
import pytest

from plabel.cookbook import recipes
from plabel.readonly_sql import run_query
from plabel.workspace import init_workspace
from tests.tables import three_rounds

QUERIES = [r.sql for r in recipes()]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    ws = init_workspace(tmp_path_factory.mktemp("cookbook") / "ws")
    three_rounds(ws)
    return ws


def test_the_page_has_at_least_ten_queries():
    assert len(QUERIES) >= 10


@pytest.mark.parametrize("query", QUERIES, ids=[r.slug for r in recipes()])
def test_query_runs_and_returns_rows(ws, query):
    result = run_query(ws, query)
    try:
        table = result.reader.read_all()
    finally:
        result.close()
    assert table.num_rows > 0, query
