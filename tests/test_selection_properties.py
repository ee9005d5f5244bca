"""Property tests of the selection rule over random prediction tables (hypothesis)."""
import math

import numpy as np
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plabel.selection import SelectOptions, select
from plabel.workspace import init_workspace
from tests.tables import add_classes, add_images, add_predictions, iid

CLASSES = 4


@st.composite
def tables(draw):
    n = draw(st.integers(0, 40))
    rows = []
    for i in range(n):
        cls = draw(st.integers(0, CLASSES - 1))
        # confidences on a coarse grid, so that ties and bin edges happen often
        conf = draw(st.sampled_from([0.25, 0.3, 0.31, 0.5, 0.5, 0.7, 0.7, 0.9, 0.99, 1.0]))
        rows.append((f"u{i:03d}", cls, conf))
    leaked = draw(st.sets(st.sampled_from([r[0] for r in rows]), max_size=3)) if rows else set()
    return rows, leaked


OPTIONS = st.builds(
    dict,
    threshold=st.sampled_from([0.0, 0.3, 0.5, 0.7]),
    per_class=st.integers(0, 8),
    balance=st.sampled_from(["topk", "copies", "none"]),
    labels=st.sampled_from(["hard", "soft"]),
    seed=st.integers(0, 3),
)


def build(tmp_path, rows, leaked):
    ws = init_workspace(tmp_path)
    add_classes(ws, [f"c{i}" for i in range(CLASSES)])
    add_images(ws, [(iid(n), "unlabeled", None, None) for n, _, _ in rows]
               + [(iid(n), "test", "c0", None) for n in leaked])  # contamination: same bytes as a test image
    add_predictions(ws, 0, [(iid(n), c, p) for n, c, p in rows], CLASSES)
    return ws


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=tables(), opts=OPTIONS)
def test_selection_invariants(tmp_path_factory, data, opts):
    rows, leaked = data
    ws = build(tmp_path_factory.mktemp("prop"), rows, leaked)
    r = select(ws, SelectOptions(round=0, **opts))
    manifest = pq.read_table(ws.round_dir("manifests", 0) / "manifest.parquet").to_pylist()
    pseudo = [m for m in manifest if m["origin"] == "pseudo"]
    conf = {iid(n): np.float32(p) for n, _, p in rows}
    cls = {iid(n): c for n, c, _ in rows}
    candidates = {i for i in conf if conf[i] >= np.float32(opts["threshold"]) and i not in {iid(n) for n in leaked}}
    # the threshold holds, nothing excluded gets in, labels are the predictions, each image once
    assert all(conf[m["image_id"]] >= np.float32(opts["threshold"]) for m in pseudo)
    assert {m["image_id"] for m in pseudo} <= candidates
    assert all(m["target"] == cls[m["image_id"]] and m["copies"] >= 1 for m in pseudo)
    assert len({m["image_id"] for m in pseudo}) == len(pseudo)
    for c in range(CLASSES):
        have = sorted((i for i in candidates if cls[i] == c), key=lambda i: (-conf[i], i))
        got = [m for m in pseudo if m["target"] == c]
        n = opts["per_class"]
        if opts["balance"] == "none":
            assert {m["image_id"] for m in got} == set(have) and all(m["copies"] == 1 for m in got)
        elif opts["balance"] == "topk":
            # the N most confident (ties by id), duplicated up to N in total when fewer
            assert {m["image_id"] for m in got} == set(have[:n])
            assert sum(m["copies"] for m in got) == (n if have and n else 0)
            k = min(len(have), n)  # the spare copies go to the most confident
            copies = {m["image_id"]: m["copies"] for m in got}
            assert [copies[i] for i in have[:k]] == [n // k + (j < n % k) for j in range(k)]
        else:
            # copies: the official walk down the 0.01 grid (edges above the threshold) to the first
            # edge with N images at or above it; each of those gets floor(c) or ceil(c) copies
            t = np.float32(opts["threshold"])
            edges = [np.float32(e / 100) for e in range(100, -1, -1) if np.float32(e / 100) > t]
            cutoff = next((e for e in edges if sum(conf[i] >= e for i in have) >= n), t)
            above = [i for i in have if conf[i] >= cutoff]
            assert {m["image_id"] for m in got} <= set(above)
            if got:
                expect = n / len(above)
                assert all(m["copies"] in (math.floor(expect), math.ceil(expect)) for m in got)
        if opts["labels"] == "soft":
            for m in got:
                assert abs(sum(m["target_prob"]) - 1) < 1e-4
    again = select(ws, SelectOptions(round=0, **opts))
    assert again.already_selected and again.manifest_hash == r.manifest_hash
    other = build(tmp_path_factory.mktemp("prop"), rows, leaked)
    assert select(other, SelectOptions(round=0, **opts)).manifest_hash == r.manifest_hash  # same inputs, same bytes
