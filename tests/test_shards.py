"""Tar shards (WebDataset layout) as image sources, end to end: ingest -> infer -> select -> train -> export."""
import io
import json
import os
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from plabel import shards


def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_shards(folder: Path, items: list[tuple[Path, str | None]], per_shard: int, label: str | None = "cls",
                 classes: list[str] | None = None, prefix: str = "pool") -> list[Path]:
    """Shards of (file, class name) items; the label as a `.cls` index or a `.txt` name."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for s in range(0, len(items), per_shard):
        path = folder / f"{prefix}-{s // per_shard:06d}.tar"
        with tarfile.open(path, "w") as tar:
            for k, (file, name) in enumerate(items[s:s + per_shard]):
                key = f"{s // per_shard:06d}/{k:04d}"
                add(tar, f"{key}.png", file.read_bytes())
                if label == "cls" and name is not None:
                    add(tar, f"{key}.cls", str(classes.index(name)).encode())
                elif label == "txt" and name is not None:
                    add(tar, f"{key}.txt", name.encode())
        out.append(path)
    return out


def items(folder: Path) -> list[tuple[Path, str]]:
    return [(f, f.parent.name) for f in sorted(folder.rglob("*.png"))]


@pytest.fixture(scope="module")
def shard_ws(tmp_path_factory, mnist_folders):
    """Train (cls) and val (txt) as shards; the pool half shards (with a corrupt member, a non-image
    member and a truncated shard), half loose files."""
    from plabel.ingest import IngestOptions, ingest
    from plabel.workspace import init_workspace

    root = tmp_path_factory.mktemp("shards")
    classes = sorted(p.name for p in mnist_folders.train.iterdir())
    write_shards(root / "train", items(mnist_folders.train), 64, "cls", classes)
    write_shards(root / "val", items(mnist_folders.val), 40, "txt")
    pool = items(mnist_folders.unlabeled)
    half = len(pool) // 2
    paths = write_shards(root / "pool", pool[:half], 30, "txt")
    with tarfile.open(root / "extra.tar", "w") as tar:  # a corrupt image member and a non-image member
        add(tar, "x/broken.png", pool[0][0].read_bytes()[:40])
        add(tar, "x/broken.txt", pool[0][1].encode())
        add(tar, "x/notes.json", b"{}")
    paths.append(root / "extra.tar")
    raw = paths[0].read_bytes()
    cut = root / "cut.tar"
    cut.write_bytes(raw[: len(raw) // 3])  # truncated inside a member
    (root / "pool.txt").write_text("\n".join(os.path.relpath(p, root) for p in [*paths, cut]) + "\n")
    ws = init_workspace(root / "ws")
    shards = root / "train" / "pool-{000000..000003}.tar"
    ingest(ws, IngestOptions(source=shards, split="train", classes=classes, workers=1))
    ingest(ws, IngestOptions(source=root / "val", split="val", workers=1))
    r = ingest(ws, IngestOptions(source=root / "pool.txt", split="unlabeled", withheld_labels=True, workers=2))
    loose = root / "loose"
    for file, name in pool[half:]:
        (loose / name).mkdir(parents=True, exist_ok=True)
        (loose / name / file.name).write_bytes(file.read_bytes())
    ingest(ws, IngestOptions(source=loose, split="unlabeled", withheld_labels=True, workers=1))
    return ws, root, r, len(pool), half


def test_members_become_image_rows_read_by_offset(shard_ws):
    ws, root, r, n_pool, half = shard_ws
    rows = ws.rows("SELECT split, path, shard, member_offset, bytes, label, true_label FROM images "
                   "WHERE shard IS NOT NULL ORDER BY path")
    assert {s for s, *_ in rows} == {"train", "val", "unlabeled"}
    assert len([r for r in rows if r[0] == "train"]) == 200 and len([r for r in rows if r[0] == "val"]) == 100
    for split, path, shard, offset, size, label, truth in rows:
        assert path.startswith(shard + "#") and path.endswith(".png")
        with open(ws.resolve_path(shard), "rb") as f:  # offset and size name the member's bytes
            f.seek(offset)
            data = f.read(size)
        with tarfile.open(ws.resolve_path(shard)) as tar:
            assert tar.extractfile(path[len(shard) + 1:]).read() == data
        assert (label if split != "unlabeled" else truth) is not None
    # the labels came from .cls indices (train) and .txt names (val), and match the source folders
    train_labels = ws.rows("SELECT label, count(*) FROM images WHERE split = 'train' GROUP BY 1 ORDER BY 1")
    assert [n for _, n in train_labels] == [20] * 10
    # the loose half and the shard half of the pool are one pool
    assert ws.rows("SELECT count(*) FILTER (shard IS NULL), count(*) FILTER (shard IS NOT NULL) FROM images "
                   "WHERE split = 'unlabeled'")[0] == (n_pool - half, half)


def test_bad_members_and_a_truncated_shard_are_rejects(shard_ws):
    ws, root, r, *_ = shard_ws
    reasons = dict(ws.rows("SELECT path, reason FROM rejects WHERE stage = 'ingest'"))
    broken = [p for p in reasons if p.endswith("extra.tar#x/broken.png")]
    assert len(broken) == 1 and reasons[broken[0]].startswith(("truncated or corrupt image", "not an image"))
    assert not any(p.endswith("notes.json") for p in reasons)  # a non-image member is not a candidate
    cut = [(p, why) for p, why in reasons.items() if "cut.tar" in p]
    assert cut and any(why.startswith(("truncated shard", "truncated tar", "corrupt or truncated tar"))
                       for _, why in cut)
    # members of the cut shard before the cut are ingested (same bytes as pool-000000: aliases)
    assert r.aliases > 0


def test_reingest_adds_nothing(shard_ws):
    from plabel.ingest import IngestOptions, ingest

    ws, root, *_ = shard_ws
    before = ws.rows("SELECT count(*) FROM images")[0][0]
    again = ingest(ws, IngestOptions(source=root / "pool.txt", split="unlabeled", withheld_labels=True, workers=1))
    assert again.added == 0 and again.skipped == again.seen
    assert ws.rows("SELECT count(*) FROM images")[0][0] == before


def test_a_round_trains_and_exports_from_shards(shard_ws, tmp_path):
    import webdataset as wds

    from plabel.export import ExportOptions, export
    from plabel.infer import InferOptions, infer
    from plabel.selection import SelectOptions, select
    from plabel.train import TrainOptions, train
    from tests.test_train import FAST

    ws, root, *_ = shard_ws
    tiny = {**FAST, "img_size": 16}  # what is tested is where the bytes come from, not what is learned
    teacher = train(ws, TrainOptions(round=0, epochs=1, **tiny))
    assert teacher.checkpoint_id
    res = infer(ws, InferOptions(round=0, splits=("unlabeled", "val"), workers=2))
    pool = ws.rows("SELECT count(*) FROM images WHERE split = 'unlabeled'")[0][0]
    assert ws.rows("SELECT count(DISTINCT image_id) FROM predictions WHERE round = 0 AND split = 'unlabeled'")[0][0] \
        == pool
    assert res.rejected == 0
    from plabel.dedup import DedupOptions, dedup
    from plabel.report import write_report

    d = dedup(ws, DedupOptions(round=0, sample=64))  # its synthetic copies are made from members read by offset
    assert d is not None
    sel = select(ws, SelectOptions(round=0, threshold=0.0, balance="topk"))
    m = pq.read_table(ws.manifest_path(0)).to_pylist()
    assert any("#" in r["path"] for r in m if r["origin"] == "pseudo")
    student = train(ws, TrainOptions(round=1, epochs=1, **tiny))
    assert student.checkpoint_id
    html = Path(write_report(ws, 0, tmp_path / "report.html").path).read_text()
    assert html.count("data:image/png;base64,") >= 10  # thumbnails of pseudo labels, read from shards
    out = export(ws, ExportOptions(round=0, out=str(tmp_path / "wds"), format="wds", shard_size=100))
    assert out.samples == sum(r["copies"] for r in m) and sel.n_pseudo_copies + sel.n_labeled == out.samples
    # WebDataset itself reads the shards back: the same targets, the same image bytes
    got = {}
    for sample in wds.WebDataset(sorted(str(p) for p in Path(out.out).glob("*.tar")), shardshuffle=False):
        meta = json.loads(sample["json"])
        got.setdefault(meta["image_id"], []).append((int(sample["cls"]), sample["png"]))
    want = {r["image_id"]: r for r in m}
    assert set(got) == set(want)
    for image_id, draws in got.items():
        assert len(draws) == want[image_id]["copies"]
        assert {t for t, _ in draws} == {want[image_id]["target"]}
    sources = dict(ws.rows("SELECT image_id, path FROM images WHERE split = 'train' AND shard IS NULL"))
    assert not sources  # every labeled image came from a shard, and its bytes survived the round trip
    one = next(r for r in m if r["origin"] == "labeled")
    assert got[one["image_id"]][0][1] == _read(ws, one["image_id"])


def _read(ws, image_id):
    shard, offset, size = ws.rows("SELECT shard, member_offset, bytes FROM images WHERE image_id = ? "
                                  "AND split = 'train'", [image_id])[0]
    return shards.read(shards.source_of(str(ws.resolve_path(shard)), offset, size))


def test_a_shard_cut_after_ingest_gives_rejects_named_by_member(tmp_path):
    """infer and eval read members by offset: a member the shard no longer holds is a reject whose
    path is the stored one (`SHARD#MEMBER`), and the rest are predicted."""
    from plabel.eval_options import EvalOptions
    from plabel.evaluate import evaluate
    from plabel.infer import InferOptions, infer
    from plabel.ingest import IngestOptions, ingest
    from plabel.train import TrainOptions, train
    from plabel.workspace import init_workspace
    from tests.helpers import write_pngs
    from tests.test_train import FAST

    pngs = write_pngs(tmp_path / "src", 8)
    labeled = [(p, "ab"[i % 2]) for i, p in enumerate(pngs)]
    write_shards(tmp_path / "t", labeled, 8, "txt", prefix="train")
    write_shards(tmp_path / "v", labeled, 8, "txt", prefix="test")
    write_shards(tmp_path / "u", [(p, None) for p in write_pngs(tmp_path / "pool", 6, seed=3)], 6, None)
    ws = init_workspace(tmp_path / "ws")
    ingest(ws, IngestOptions(source=tmp_path / "t", split="train", workers=1))
    ingest(ws, IngestOptions(source=tmp_path / "v", split="test", workers=1))
    ingest(ws, IngestOptions(source=tmp_path / "u", split="unlabeled", workers=1))
    train(ws, TrainOptions(round=0, epochs=1, **{**FAST, "img_size": 16}))
    for folder in ("v", "u"):
        shard = next((tmp_path / folder).glob("*.tar"))
        last = max(ws.rows("SELECT member_offset FROM images WHERE shard = ?", [ws.store_path(shard)]))[0]
        os.truncate(shard, last + 10)  # the last member loses its tail
    r = infer(ws, InferOptions(round=0, splits=("unlabeled",), workers=0))
    assert r.predicted == 5 and r.rejected == 1
    e = evaluate(ws, EvalOptions(checkpoint="latest", split="test", workers=0))
    assert e.n == 7 and e.unreadable == 1
    rejects = ws.rows("SELECT stage, path, reason FROM rejects WHERE stage IN ('infer', 'eval') ORDER BY stage")
    assert [s for s, _, _ in rejects] == ["eval", "infer"]
    for _, path, reason in rejects:
        assert path.endswith(".png") and "#" in path and reason.startswith("truncated shard")
