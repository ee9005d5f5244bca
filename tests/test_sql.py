"""Named queries: every query is a file under schemas/queries/, parameters are checked by name."""
import ast
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from plabel import db
from plabel.ingest.probe import BATCH_SCHEMA
from plabel.queries import list_queries, parse_query, query
from plabel.schema import referenced, views
from plabel.selection.plan import BOUNDARIES, CUTOFFS, THRESHOLDS

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


# Relations plabel registers from Arrow (db.registered, selection's class tables) just before the
# queries that name them run, registered empty here with the columns the library gives them (the
# widest where two callers differ), so every query binds.
_S, _I = pa.string(), pa.int64()
REGISTERED = {
    "batch_arrow": BATCH_SCHEMA.append(pa.field("seq", _I)), "boundaries": BOUNDARIES, "class_thresholds": THRESHOLDS,
    "cutoffs": CUTOFFS, "chunk": pa.schema([("seq", _I), ("path", _S)]), "grid": pa.schema([("t", pa.float64())]),
    "keys": pa.schema([("seq", _I), ("key", _S), ("stored", _S), ("bare", pa.bool_())]),
    "manifest_rows": pa.schema([("image_id", _S), ("path", _S), ("seq", _I)]),
    "wanted": pa.schema([("seq", _I), ("image_id", _S)]),
}
_MISSING = re.compile(r"(?:Table|Macro Function|Table Function|View) with name (\w+) does not exist")


def _bind(con, q, sample: str) -> None:
    """PREPARE a read (its columns and types are bound, parameters left open); run anything else
    (a macro is bound when defined) with every parameter NULL, or a real file where it reads one."""
    if q.text.lstrip().upper().startswith(("SELECT", "WITH", "FROM")):
        con.execute(f"PREPARE bound AS {q.text}")
        con.execute("DEALLOCATE bound")
    else:
        con.execute(q.text, {p: {"path": sample, "files": [sample]}.get(p) for p in q.params})


def test_every_query_binds_against_a_real_workspace(ws, tmp_path):
    """Each query against the views of a real (empty) workspace: columns, types and names resolve.
    A query that reads what another query makes (a temp table or macro) binds after it."""
    sample = str(tmp_path / "sample.parquet")
    duckdb.sql("SELECT 'a' AS image_id, 'a.png' AS path, 'pseudo' AS origin, 0 AS target").write_parquet(sample)
    with ws.connect() as con:
        for name, schema in REGISTERED.items():
            con.register(name, schema.empty_table())
        pending, waiting = list_queries(), {}
        while pending:
            waiting = {}
            for name in pending:
                try:
                    _bind(con, query(name), sample)
                except duckdb.CatalogException as e:
                    waiting[name] = _MISSING.search(str(e))
            if len(waiting) == len(pending):
                break
            pending = list(waiting)
    assert not waiting, {n: m.group(1) if m else None for n, m in waiting.items()}


def test_positional_parameters_are_refused():
    with duckdb.connect() as con, pytest.raises(ValueError, match="by name"):
        db.rows(con, query("selection/existing"), [0])
    with pytest.raises(ValueError, match=r"named parameters \(\$name\), not `\?`"):
        parse_query("x/y", "SELECT * FROM t WHERE a = ?")
    assert parse_query("x/y", "SELECT '?' -- why?\nFROM t WHERE a = $a").params == {"a"}


def test_views_are_created_after_the_views_they_read():
    order = list(views())
    for v in views().values():
        assert all(order.index(n) < order.index(v.name) for n in v.needs), v
    assert referenced("SELECT * FROM a JOIN b_c USING (x) -- reads c\nWHERE s = 'c'", {"a", "b", "c", "b_c"}) == {
        "a", "b_c"}


def test_shared_facts_have_one_owner(ws):
    """The held-out splits and the default threshold are Python's; SQL reads them as macros, and no
    query or view file spells them out."""
    from plabel.selection import SelectOptions
    from plabel.workspace import HELD_OUT, SPLITS

    with ws.connect() as con:
        held = dict(con.execute("SELECT s, held_out(s) FROM unnest($splits) t(s)", {"splits": list(SPLITS)}).fetchall())
        assert {s for s, h in held.items() if h} == set(HELD_OUT)
        assert con.execute("SELECT default_threshold()").fetchone()[0] == SelectOptions(round=0).threshold
    sql = [p for p in (ROOT / "schemas").rglob("*.sql")]
    code = {p: re.sub(r"--[^\n]*", "", p.read_text()) for p in sql}
    assert not [p.name for p, text in code.items() if re.search(r"\(\s*'val',\s*'test'\s*\)|\b0\.3\b", text)]


def test_temporary_objects_are_created_after_what_they_name(ws):
    """db.define runs the selection's macros in the order their texts call for, whatever order it
    is given; run by hand in the wrong order, DuckDB refuses (a macro binds when it is created)."""
    names = ["selection/eligible", "selection/binned", "selection/candidates_none_excluded", "selection/scored"]
    assert [query(n).defines for n in names] == ["eligible", "binned", "candidates", "scored"]
    with ws.connect() as con:
        con.register("class_thresholds", THRESHOLDS.empty_table())
        with pytest.raises(duckdb.CatalogException, match="binned"):
            db.execute(con, query("selection/eligible"))
        db.define(con, [query(n) for n in names])
        made = {n for (n,) in con.execute("SELECT function_name FROM duckdb_functions() WHERE NOT internal").fetchall()}
        assert {"eligible", "binned", "candidates", "scored"} <= made
        with pytest.raises(ValueError, match="one distinct temporary object"):
            db.define(con, [query("selection/stats")])
