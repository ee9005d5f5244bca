"""Hostile shard and member names, crafted member rows, and exports of hostile class names."""
import io
import os
import tarfile

import pyarrow.parquet as pq
import pytest

from plabel import shards
from plabel.errors import UsageError
from plabel.images import RejectedImage, read_bytes
from plabel.ingest import IngestOptions, ingest
from plabel.workspace import init_workspace
from tests.helpers import write_pngs


def _tar(path, members: dict) -> None:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


SHARD_NAMES = ["a#b.tar", "w[s].tar", "p{1..2}.tar", "two\nlines.tar", "données ✓.tar", "[bold]x[-bold].tar"]


@pytest.mark.parametrize("name", SHARD_NAMES)
def test_a_shard_name_is_data(tmp_path, name):
    """`p{1..2}.tar` exists, so it is that file, not a pattern; `#` in a shard name does not confuse
    where the member name starts: readers use the shard and offset columns, not the path."""
    pngs = write_pngs(tmp_path / "src", 3)
    _tar(tmp_path / name, {f"k{i}.png": p.read_bytes() for i, p in enumerate(pngs)})
    ws = init_workspace(tmp_path / "ws")
    r = ingest(ws, IngestOptions(source=tmp_path / name, split="unlabeled", workers=1))
    assert r.added == 3 and r.rejected == 0
    rows = ws.rows("SELECT path, shard, member_offset, bytes FROM images ORDER BY path")
    for (path, shard, offset, size), png in zip(rows, pngs, strict=True):
        assert shard == str(tmp_path / name) and path == f"{shard}#k{pngs.index(png)}.png"
        assert read_bytes(ws.source(path, shard, offset, size)) == png.read_bytes()


def test_member_names_are_data(tmp_path):
    """A member named like a path out of the folder is never extracted; a name that is not UTF-8
    is a reject; `#` and brackets in a member name stay text."""
    png = write_pngs(tmp_path / "src", 4)
    _tar(tmp_path / "s.tar", {"../../escape.png": png[0].read_bytes(), "x#y/[1].png": png[1].read_bytes(),
                              "/abs/3.png": png[2].read_bytes()})
    with tarfile.open(tmp_path / "bad.tar", "w", format=tarfile.GNU_FORMAT, encoding="latin-1") as tar:
        info = tarfile.TarInfo("caf\xe9.png")  # latin-1 bytes: not UTF-8
        data = png[3].read_bytes()
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    ws = init_workspace(tmp_path / "ws")
    ingest(ws, IngestOptions(source=tmp_path / "s.tar", split="unlabeled", workers=1))
    ingest(ws, IngestOptions(source=tmp_path / "bad.tar", split="unlabeled", workers=1))
    paths = {p for (p,) in ws.rows("SELECT path FROM images")}
    assert {p.split("#", 1)[1] for p in paths} == {"../../escape.png", "x#y/[1].png", "/abs/3.png"}
    assert not (tmp_path / "escape.png").exists() and not (tmp_path.parent / "escape.png").exists()
    assert ws.rows("SELECT reason FROM rejects")[0][0] == "file name is not valid UTF-8"


@pytest.mark.parametrize("offset,size", [(-5, 10), (10**12, 10), (0, 10**12), (0, -1)])
def test_a_crafted_member_row_is_a_reject_not_a_crash(tmp_path, offset, size):
    _tar(tmp_path / "s.tar", {"a.png": write_pngs(tmp_path / "src", 1)[0].read_bytes()})
    with pytest.raises(RejectedImage, match="shard"):
        read_bytes(shards.source_of(str(tmp_path / "s.tar"), offset, size))


@pytest.mark.parametrize("source,message", [
    ("missing-{000..003}.tar", "4 of 4 shards do not exist"),
    ("listing.txt", "outside the listing's folder"),
    ("img-{1..3}.png", "not a .tar shard"),
    ("pool-{1..2}.tar.gz", "not a .tar shard"),
])
def test_bad_shard_sources(tmp_path, source, message):
    (tmp_path / "listing.txt").write_text("../elsewhere.tar\n")
    ws = init_workspace(tmp_path / "ws")
    with pytest.raises(UsageError, match=message):
        ingest(ws, IngestOptions(source=str(tmp_path / source), split="unlabeled", workers=1))
    assert not ws.has_files(__import__("plabel.schema", fromlist=["table"]).table("images"))


def test_cls_indices_need_a_class_list(tmp_path):
    _tar(tmp_path / "s.tar", {"a.png": write_pngs(tmp_path / "src", 1)[0].read_bytes(), "a.cls": b"0"})
    ws = init_workspace(tmp_path / "ws")
    with pytest.raises(UsageError, match="`classes`"):
        ingest(ws, IngestOptions(source=tmp_path / "s.tar", split="train", workers=1))
    r = ingest(ws, IngestOptions(source=tmp_path / "s.tar", split="train", classes=["zero"], workers=1))
    assert r.added == 1 and ws.rows("SELECT label FROM images")[0][0] == "zero"


HOSTILE_CLASSES = ["../up", ".", "..", "a/b", ".hidden", "[x]*?"]


def test_an_imagefolder_export_keeps_hostile_class_names_inside(tmp_path):
    from plabel.export import MARKER, ExportOptions, export, folder_name
    from plabel.selection import SelectOptions, select
    from tests.tables import add_predictions

    pngs = write_pngs(tmp_path / "src", len(HOSTILE_CLASSES))
    (tmp_path / "list.csv").write_text("path,label\n" + "".join(
        f"src/{p.name},\"{c}\"\n" for p, c in zip(pngs, HOSTILE_CLASSES, strict=True)))
    ws = init_workspace(tmp_path / "ws")
    ingest(ws, IngestOptions(source=tmp_path / "list.csv", split="train", classes=HOSTILE_CLASSES, workers=1))
    write_pngs(tmp_path / "pool", len(HOSTILE_CLASSES), seed=7)
    ingest(ws, IngestOptions(source=tmp_path / "pool", split="unlabeled", workers=1))
    ids = [i for (i,) in ws.rows("SELECT image_id FROM images WHERE split = 'unlabeled' ORDER BY path")]
    add_predictions(ws, 0, [(i, k, 0.9) for k, i in enumerate(ids)], len(HOSTILE_CLASSES))
    select(ws, SelectOptions(round=0, threshold=0.5, balance="none"))
    out = tmp_path / "exports" / "folder"
    r = export(ws, ExportOptions(round=0, out=str(out), format="imagefolder"))
    assert r.files == 2 * len(HOSTILE_CLASSES)  # a labeled and a pseudo row per class
    assert (out / MARKER).is_file()  # what lets --overwrite recognise the export
    folders = sorted(f for f in os.listdir(out) if f != MARKER)
    assert folders == sorted(folder_name(c) for c in HOSTILE_CLASSES) and len(set(folders)) == len(folders)
    assert all("/" not in f and not f.startswith(".") for f in folders)
    assert sorted(os.listdir(tmp_path / "exports")) == ["folder"]  # nothing written beside it
    for f in folders:
        for link in os.listdir(out / f):
            assert os.path.realpath(out / f / link).startswith((str(tmp_path / "src"), str(tmp_path / "pool")))
    # a second export refuses to replace it, and --overwrite replaces it whole
    with pytest.raises(UsageError, match="exists"):
        export(ws, ExportOptions(round=0, out=str(out), format="imagefolder"))
    (tmp_path / "exports" / ".folder.tmp-deadbeef").mkdir()  # what a killed export leaves
    export(ws, ExportOptions(round=0, out=str(out), format="csv", overwrite=True))
    assert out.is_file() and sorted(os.listdir(tmp_path / "exports")) == ["folder"]
    rows = pq.read_table(ws.manifest_path(0)).num_rows
    assert len(out.read_text().splitlines()) == rows + 1
