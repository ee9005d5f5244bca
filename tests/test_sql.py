"""Named queries: every query is a file under schemas/queries/, parameters are checked by name."""
import ast
import re
from pathlib import Path

import duckdb
import pytest

from plabel import db
from plabel.sql import list_queries, query

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", list_queries())
def test_every_query_parses(name):
    q = query(name)
    assert duckdb.extract_statements(q.text), name
    assert q.params == frozenset(re.findall(r"\$([A-Za-z_]\w*)", re.sub(r"--[^\n]*", "", q.text)))


def test_a_parameter_in_a_comment_or_string_is_not_one():
    q = query("selection/stats")  # its comment names $threshold
    assert "$threshold" in q.text and q.params == {"round"}


def test_unknown_and_missing_parameters_are_refused():
    con = duckdb.connect()
    con.execute("CREATE TABLE checkpoints (round INTEGER)")
    q = query("workspace/newest_checkpoint_round")
    assert db.scalar(con, q) is None
    teacher = query("selection/teacher")
    with pytest.raises(ValueError, match=r"unknown parameters \['rnd'\], missing \['round'\]"):
        db.rows(con, teacher, {"rnd": 0})
    with pytest.raises(ValueError, match=r"unknown parameters \['seed'\]"):
        db.rows(con, query("selection/stats"), {"round": 0, "seed": 1})


def test_an_unknown_query_lists_the_names():
    with pytest.raises(KeyError, match="selection/stats"):
        query("selection/no_such_query")


def test_every_query_file_is_used_and_every_used_name_exists():
    source = "\n".join(p.read_text() for p in (ROOT / "plabel").rglob("*.py"))
    named = set(re.findall(r'query\("([^"]+)"\)', source))
    registries = set(re.findall(r'"((?:selection|ingest)/[a-z_]+)"', source))
    used = named | registries | {f"ingest/new_{t}" for t in ("images", "aliases")}
    assert used <= set(list_queries()), used - set(list_queries())
    assert set(list_queries()) <= used, set(list_queries()) - used


def test_no_sql_text_in_the_library():
    """SQL lives in schemas/: Python string literals in plabel/ hold no statements, except the
    view definitions generated from the table definitions (identifiers quoted by one helper)."""
    allowed = {"plabel/schema.py", "plabel/workspace.py"}
    statement = re.compile(r"^\s*(SELECT|WITH \w+ AS|INSERT INTO|CREATE|UPDATE \w+ SET|DELETE FROM|COPY)\s")
    found = []
    for p in (ROOT / "plabel").rglob("*.py"):
        rel = str(p.relative_to(ROOT))
        if rel in allowed:
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and statement.match(node.value):
                found.append((rel, node.lineno))
    assert not found, found
