"""`plabel view` over HTTP (Starlette's TestClient, the real app on a real workspace): every page,
keyset paging, filters, images by id, the SQL console, review writes, and the guards (Host,
token, CSRF, CSP, escaping, bounded SQL)."""
import html
import re
import shutil

import markupsafe
import pytest
from starlette.testclient import TestClient

from plabel.readonly_sql import run_query
from plabel.selection import SelectOptions, select
from plabel.view.app import make_app
from plabel.view.options import ViewOptions
from plabel.view.serve import guard_for
from plabel.workspace import open_workspace
from tests.view_workspace import HOSTILE, view_workspace

LOCAL = "http://127.0.0.1"


@pytest.fixture(scope="module")
def base(tmp_path_factory, mnist_folders):
    return view_workspace(tmp_path_factory.mktemp("view") / "ws", mnist_folders)


@pytest.fixture
def ws(base, tmp_path):
    copy = open_workspace(shutil.copytree(base[0].root, tmp_path / "ws"))
    copy.sync_catalog()
    return copy


def client(ws, **options) -> TestClient:
    o = ViewOptions(**options)
    return TestClient(make_app(ws, o, guard_for(o)), base_url=LOCAL)


def csrf_of(page: str) -> str:
    return re.search(r'<meta name="csrf" content="([0-9a-f]+)">', page)[1]


def test_every_page_renders_and_escapes_hostile_class_names(ws, base):
    c = client(ws)
    ids = base[1]
    for path in ["/", "/round/0", "/round/1?other=0&flipped=1&sort=flip", f"/image/{ids[0]}?round=0",
                 "/compare?a=0&b=1", "/duplicates/0", "/sql?recipe=13_the_drift_summary"]:
        r = c.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        assert "<script>alert(1)</script>" not in r.text
        assert r.headers["content-security-policy"].startswith("default-src 'none'")
        assert r.headers["x-content-type-options"] == "nosniff"
    page = c.get("/compare?a=0&b=1").text
    assert html.escape(HOSTILE[0]) in page and "{{7*7}}" in page  # shown as text, never evaluated
    assert "x&#39;); DROP TABLE images; --" in page


def test_the_grid_pages_by_keyset_without_gaps_or_repeats(ws, base):
    c = client(ws)
    seen, url = [], "/round/0?limit=25"
    while url:
        r = c.get(url)
        seen += re.findall(r'data-image="([0-9a-f]+)"', r.text)
        nxt = re.search(r'<a id="next" href="([^"]+)"', r.text)
        url = html.unescape(nxt[1]) if nxt else None
    assert sorted(seen) == sorted(base[1]) and len(seen) == len(set(seen))
    confidences = ws.rows("SELECT image_id FROM predictions WHERE round = 0 ORDER BY confidence DESC, image_id")
    assert seen == [i for (i,) in confidences]  # sorted by confidence, ties by id


def test_filters_match_sql(ws):
    c = client(ws)
    shown = set(re.findall(r'data-image="([0-9a-f]+)"', c.get("/round/0?status=selected&limit=200").text))
    manifest = {i for (i,) in ws.rows("SELECT image_id FROM manifests WHERE round = 0 AND origin = 'pseudo'")}
    assert shown == manifest and shown
    shown = set(re.findall(r'data-image="([0-9a-f]+)"', c.get("/round/0?class_id=4&min=0.5&limit=200").text))
    expected = {i for (i,) in ws.rows("SELECT image_id FROM predictions WHERE round = 0 AND class_id = 4 "
                                      "AND confidence >= 0.5")}
    assert shown == expected
    flips = set(re.findall(r'data-image="([0-9a-f]+)"', c.get("/round/1?other=0&flipped=1&limit=200").text))
    expected = {i for (i,) in ws.rows("SELECT b.image_id FROM predictions a JOIN predictions b USING (image_id) "
                                      "WHERE a.round = 0 AND b.round = 1 AND a.class_id <> b.class_id")}
    assert flips == expected and flips
    for bad in ["/round/0?status=bogus", "/round/0?min=nan", "/round/0?class_id=x", "/round/0?sort=name"]:
        r = c.get(bad)
        assert r.status_code == 400 and 'id="error"' in r.text, bad


def test_images_are_served_by_id_only(ws, base):
    c = client(ws)
    r = c.get(f"/media/{base[1][0]}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content.startswith(b"\x89PNG")
    assert c.get(f"/thumb/{base[1][0]}").content.startswith(b"\x89PNG")
    for bad in ["/media/..%2F..%2Fetc%2Fpasswd", "/media/%2Fetc%2Fpasswd", "/thumb/nope", "/image/nope",
                "/media/" + "0" * 32]:
        assert c.get(bad).status_code == 404, bad


def test_review_from_the_browser_lands_in_reviews_and_the_next_select_uses_it(ws, base):
    c = client(ws, reviewer="tester")
    a, b, d = base[1][5], base[1][6], base[1][7]
    page = c.get(f"/image/{a}?round=0").text
    token = csrf_of(page)
    for image, action, label in [(a, "accept", None), (b, "relabel", "ok"), (d, "reject", None)]:
        form = {"csrf": token, "image_id": image, "round": "0", "action": action, "next": f"/image/{image}"}
        r = c.post("/review", data=form | ({"label": label} if label else {}), follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/image/{image}", r.text
        assert "tester" in c.get(f"/image/{image}").text  # seen at once, before any other commit
    result = run_query(ws, "SELECT image_id, label, annotator, source FROM reviews ORDER BY imported_at")
    rows = result.reader.read_all().to_pylist()
    result.close()
    predicted = dict(ws.rows("SELECT p.image_id, c.name FROM predictions p JOIN classes c USING (class_id) "
                             "WHERE round = 0"))
    assert [(r["image_id"], r["label"]) for r in rows] == [(a, predicted[a]), (b, "ok"), (d, None)]
    assert {r["annotator"] for r in rows} == {"tester"} and {r["source"] for r in rows} == {"plabel view"}
    select(ws, SelectOptions(round=0, threshold=0.3, per_class=5, overwrite=True))
    manifest = dict(ws.rows("SELECT image_id, origin FROM manifests WHERE round = 0"))
    assert manifest.get(a) == "labeled" and manifest.get(b) == "labeled" and d not in manifest
    assert "tester" in c.get(f"/image/{d}").text and "rejected" in c.get(f"/image/{d}").text


def test_review_needs_the_sessions_csrf_token(ws, base):
    c = client(ws)
    token = csrf_of(c.get("/").text)
    form = {"image_id": base[1][5], "round": "0", "action": "accept"}
    assert c.post("/review", data=form).status_code == 403  # none
    assert c.post("/review", data=form | {"csrf": "0" * 64}).status_code == 403  # wrong
    other = client(ws)  # another session's token is not this one's
    assert other.post("/review", data=form | {"csrf": token}).status_code == 403
    assert c.post("/review", data=form | {"csrf": token, "action": "bogus"}).status_code == 400
    assert c.post("/review", data=form | {"csrf": token, "round": "7"}).status_code == 400
    assert not ws.rows("SELECT * FROM reviews")
    for away in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
        r = c.post("/review", data=form | {"csrf": token, "next": away}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/", away  # written, then home
    assert len(ws.rows("SELECT * FROM reviews")) == 3


def test_host_header_and_token(ws):
    c = client(ws)
    assert c.get("/", headers={"host": "evil.example"}).status_code == 400  # DNS rebinding
    assert c.get("/", headers={"host": "localhost:8765"}).status_code == 200
    guarded = client(ws, token="s3cret-token-0123456789")
    assert guarded.get("/").status_code == 403
    r = guarded.get("/round/0?token=s3cret-token-0123456789&limit=5", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/round/0?limit=5" and "plabel_token" in r.headers[
        "set-cookie"]
    assert guarded.get("/round/0?limit=5").status_code == 200  # the cookie now
    assert client(ws, token="s3cret-token-0123456789").get(
        "/", headers={"authorization": "token s3cret-token-0123456789"}).status_code == 200
    for away in ("//evil.example/", "/%5Cevil.example/"):
        r = guarded.get(f"{away}?token=s3cret-token-0123456789", follow_redirects=False)
        assert r.headers["location"].startswith("/") and r.headers["location"][1:2] not in ("/", "\\"), away
    assert guard_for(ViewOptions(host="0.0.0.0")).token  # off loopback: a token always


def test_sql_console_is_read_only_bounded_and_downloads_csv(ws):
    c = client(ws, sql_rows=7, sql_seconds=1.0)
    r = c.get("/sql", params={"q": "SELECT * FROM range(100)"})
    assert r.status_code == 200 and r.text.count("<tr>") == 8 and "there are more" in r.text
    r = c.get("/sql", params={"q": "DELETE FROM images"})
    assert "read-only" in r.text and ws.rows("SELECT count(*) FROM images")[0][0] > 0
    r = c.get("/sql", params={"q": "SELECT count(*) FROM range(100000000000) a, range(1000) b"})
    assert "stopped after 1 s" in r.text
    r = c.get("/sql", params={"q": "SELECT '<b>x</b>' AS \"<i>c</i>\""})
    assert "<b>x</b>" not in r.text and "&lt;b&gt;x&lt;/b&gt;" in r.text and "&lt;i&gt;c&lt;/i&gt;" in r.text
    r = c.get("/sql.csv", params={"q": "SELECT name FROM classes ORDER BY class_id"})
    assert r.headers["content-type"].startswith("text/csv") and r.text.splitlines()[1] == HOSTILE[0]
    assert "attachment" in r.headers["content-disposition"]


def test_a_new_commit_shows_after_a_refresh(ws):
    c = client(ws)

    def funnel_rounds() -> list[str]:
        page = c.get("/").text
        table = page[page.index('<table id="funnel">'):page.index("</table>", page.index('<table id="funnel">'))]
        return re.findall(r"<tr><td>(\d+)</td>", table)

    assert funnel_rounds() == ["0"]
    select(ws, SelectOptions(round=1, threshold=0.5, per_class=3))
    assert funnel_rounds() == ["0", "1"]


def test_the_command_prints_its_address_serves_and_stops_on_ctrl_c(ws):
    """`plabel view` as a user runs it: a real process on a free port, its URL on stderr."""
    import signal
    import subprocess
    import sys
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "plabel", "view", "--port", "0", "-w", str(ws.root)],
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        url = re.search(r"(http://127\.0\.0\.1:\d+/)", line)[1]
        with urllib.request.urlopen(url, timeout=30) as r:
            assert r.status == 200 and b'id="rounds"' in r.read()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) in (0, 130, -signal.SIGINT)
    finally:
        proc.kill()
        proc.wait()


def test_a_hostile_workspace_path_is_shown_as_text(tmp_path, base):
    hostile = tmp_path / "we<b>ird 'ws\" {{1+1}}"
    shutil.copytree(base[0].root, hostile)
    ws = open_workspace(hostile)
    r = client(ws).get("/")
    assert r.status_code == 200 and "<b>ird" not in r.text
    assert str(markupsafe.escape(str(hostile))) in r.text  # as Jinja2 escapes it (&lt;b&gt;, &#39;, &#34;)


def test_an_empty_workspace_has_pages_too(tmp_path):
    from plabel.view.data import warm
    from plabel.view.snapshot import Snapshots
    from plabel.workspace import init_workspace

    ws = init_workspace(tmp_path / "empty")
    warm(Snapshots(ws))  # what the command does first: nothing to decide yet
    c = client(ws)
    assert "No rounds yet" in c.get("/").text
    assert "No image matches" in c.get("/round/0").text
    assert "Comparing needs two rounds" in c.get("/compare").text
    assert c.get("/image/" + "0" * 32).status_code == 404
