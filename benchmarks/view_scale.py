"""`plabel view` at scale: 10M prediction rows (3 rounds of a 3.33M-image pool) over 1,000 classes.

A synthetic workspace as select_scale.py builds one (Zipf-skewed classes, Beta-like confidences;
rounds 1 and 2 move a share of images to another class), rounds 0 and 1 selected by plabel
itself. Then the view's start-up (its snapshot: the overview's summaries and every round's
decisions, made before `plabel view` prints its address), and every page timed through the real
app in-process (Starlette's TestClient: routing, SQL, templates; no socket): the overview, the
first grid page, each filter, each sort, five page turns, an image page, the flip matrix, and a
page's thumbnails cold and warm. Each is run --repeat times; the p95 is reported. The baseline,
measured in the same run: the grid page at depth D (half the round, at most 1M rows) by OFFSET,
against the same page by keyset (what keyset pagination avoids: sorting and skipping D rows).

Targets: first page < 1 s, any filter, sort or page turn < 2 s (p95), a page's thumbnails < 1 s warm.

    python benchmarks/view_scale.py                       # --rows 10000000 --repeat 5
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, report  # noqa: E402
from select_scale import CLASSES, IMAGES, write_classes  # noqa: E402  (the same synthetic pool and classes)

ROUNDS = 3

GENERATE = "SELECT setseed(0.42);" + IMAGES + """
CREATE TABLE base AS
SELECT i, md5(CAST(i AS VARCHAR)) AS image_id, CAST(floor(pow({classes} + 1, random()) - 1) AS INTEGER) AS class_id
FROM range({rows}) t(i);
"""

ROUND = """
COPY (
    WITH r AS (
        SELECT image_id,
               CASE WHEN random() < {moved} THEN CAST(floor(random() * {classes}) AS INTEGER)
                    ELSE class_id END AS class_id,
               CAST(1 - pow(random(), 0.6) * 0.95 AS FLOAT) AS confidence
        FROM base
    )
    SELECT image_id, 'unlabeled' AS split, 'c0ffee000000000{round}' AS checkpoint_id, class_id, confidence,
           CAST(confidence * 0.8 AS FLOAT) AS margin, CAST(1.0 AS FLOAT) AS entropy,
           [class_id, (class_id + 1) % {classes}, (class_id + 2) % {classes}]::INTEGER[] AS index,
           [confidence, 0.02, 0.01]::FLOAT[] AS prob, NULL::FLOAT[] AS probs, CAST(1.0 AS FLOAT) AS temperature
    FROM r
) TO '{file}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880);
"""


def build(folder: Path, rows: int) -> tuple[object, Path]:
    import duckdb

    from plabel.selection import SelectOptions, select
    from plabel.workspace import init_workspace

    ws = init_workspace(folder / "ws")
    pool = folder / "pool"
    pool.mkdir()
    write_classes(ws)
    ws.table_dir("images").mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    images = rows // ROUNDS
    con.execute(GENERATE.format(rows=images, classes=CLASSES, pool=pool,
                                images=ws.table_dir("images") / "part-0.parquet"))
    for r in range(ROUNDS):
        ws.round_dir("predictions", r).mkdir(parents=True, exist_ok=True)
        con.execute(ROUND.format(moved=0.0 if r == 0 else 0.15, classes=CLASSES, round=r,
                                 file=ws.round_dir("predictions", r) / "part-0.parquet"))
    con.close()
    for r in (0, 1):
        select(ws, SelectOptions(round=r, threshold=0.3, per_class=2000))
    return ws, pool


def timed(fn, repeat: int) -> float:
    """The p95 of `repeat` runs, in seconds (with 5 runs: the slowest)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.percentile(times, 95))


def get(c, url: str):
    r = c.get(url)
    assert r.status_code == 200, (url, r.status_code, r.text[:300])
    return r


def pages(c, repeat: int) -> dict[str, float]:
    """p95 seconds of the overview, the first grid page, every filter and sort."""
    urls = {
        "overview": "/", "first grid page": "/round/1",
        "filter: class": "/round/1?class_id=3", "filter: confidence 0.5-0.6": "/round/1?min=0.5&max=0.6",
        "filter: selected": "/round/1?status=selected", "filter: not selected, threshold": "/round/1?status=threshold",
        "filter: not selected, cutoff": "/round/1?status=cutoff",
        "filter: flipped since round 0": "/round/1?other=0&flipped=1",
        "filter: reviewed": "/round/1?reviewed=1",
        "filter: flip matrix cell": "/round/1?class_id=5&other=0&other_class_id=0",
        "sort: confidence ascending": "/round/1?asc=1", "sort: margin": "/round/1?sort=margin",
        "sort: flip": "/round/1?sort=flip&other=0", "image page": None, "compare": "/compare?a=0&b=1",
    }
    out = {}
    for name, url in urls.items():
        if url is None:
            import re
            first = re.search(r'data-image="([0-9a-f]+)"', get(c, "/round/1").text)[1]
            url = f"/image/{first}?round=1"
        out[name] = timed(lambda u=url: get(c, u), repeat)
    return out


def paging(c, ws, repeat: int, turns: int = 5) -> tuple[float, float, float, int, str]:
    """(p95 of five keyset page turns from the top, a keyset page at depth D, the same page by
    OFFSET D, D, that page's URL), sorted by margin."""
    import html
    import re
    from urllib.parse import urlencode

    from plabel import db
    from plabel.queries import query

    url, times = "/round/1?sort=margin", []
    for _ in range(turns):
        t = time.perf_counter()
        text = get(c, url).text
        times.append(time.perf_counter() - t)
        url = html.unescape(re.search(r'<a id="next" href="([^"]+)"', text)[1])
    order = "FROM decisions(1) WHERE split = 'unlabeled' ORDER BY margin DESC, image_id"
    with ws.connect() as con:
        db.define(con, [query("view/decisions")])
        depth = min(1_000_000, int(con.execute("SELECT count(*) FROM decisions(1)").fetchone()[0]) // 2)
        key, after = con.execute(f"SELECT CAST(margin AS DOUBLE), image_id {order} LIMIT 1 OFFSET {depth - 1}"
                                 ).fetchone()
    deep = "/round/1?" + urlencode({"sort": "margin", "after_key": repr(key), "after_id": after})
    keyset = timed(lambda: get(c, deep), repeat)

    def by_offset() -> None:
        with ws.connect() as con:
            db.define(con, [query("view/decisions")])
            con.execute(f"SELECT * {order} LIMIT 60 OFFSET {depth}").fetchall()
    return float(np.percentile(times, 95)), keyset, timed(by_offset, repeat), depth, deep


def thumbnails(c, ws, pool: Path, deep_url: str) -> tuple[float, float]:
    """(cold, warm) seconds for the thumbnails of a grid page (60 images), files written first."""
    import re

    from PIL import Image

    ids = re.findall(r'data-image="([0-9a-f]+)"', get(c, deep_url).text)
    paths = dict(ws.rows("SELECT image_id, path FROM images WHERE image_id IN (SELECT unnest($ids))", {"ids": ids}))
    rng = np.random.default_rng(0)
    for i in ids:
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(paths[i])
    t = time.perf_counter()
    for i in ids:
        assert get(c, f"/thumb/{i}").content.startswith(b"\x89PNG")
    cold = time.perf_counter() - t
    t = time.perf_counter()
    for i in ids:
        get(c, f"/thumb/{i}")
    return cold, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    from starlette.testclient import TestClient

    from plabel.view.app import make_app
    from plabel.view.data import warm
    from plabel.view.options import ViewOptions
    from plabel.view.serve import guard_for
    from plabel.view.snapshot import Snapshots

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        started = time.perf_counter()
        ws, pool = build(Path(tmp), args.rows)
        report("view_scale_data", rows=args.rows, rounds=ROUNDS, classes=CLASSES,
               seconds=round(time.perf_counter() - started, 1))
        o = ViewOptions()
        snaps = Snapshots(ws)
        started = time.perf_counter()
        warm(snaps)  # what `plabel view` does before it prints its address
        warm_seconds = time.perf_counter() - started
        c = TestClient(make_app(ws, o, guard_for(o), snaps), base_url="http://127.0.0.1")
        p95 = pages(c, args.repeat)
        turn, keyset, offset, depth, deep_url = paging(c, ws, args.repeat)
        cold, warm = thumbnails(c, ws, pool, deep_url)
        report("view_scale", machine=machine(), rows=args.rows, repeat=args.repeat,
               start_up_seconds=round(warm_seconds, 2),
               p95_seconds={k: round(v, 3) for k, v in p95.items()}, page_turn_p95=round(turn, 3),
               deep_page_keyset=round(keyset, 3), deep_page_offset=round(offset, 3), depth=depth,
               offset_over_keyset=round(offset / keyset, 2), thumbnails_cold=round(cold, 3),
               thumbnails_warm=round(warm, 3),
               targets={"first page": 1.0, "filter, sort, page": 2.0, "thumbnails warm": 1.0},
               met=p95["first grid page"] < 1 and p95["overview"] < 1 and max(p95.values()) < 2 and turn < 2
               and keyset < 2 and warm < 1)


if __name__ == "__main__":
    main()
