import shutil

import pytest
from PIL import Image

from plabel.errors import UsageError
from plabel.images import content_id
from plabel.ingest import IngestOptions, ingest
from tests.helpers import tree_digest, write_pngs


def rows(ws, sql):
    con = ws.connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_image_folder_with_corrupt_files(ws, image_folder):
    r = ingest(ws, IngestOptions(source=image_folder, split="train", workers=2))
    assert (r.added, r.aliases, r.rejected) == (11, 1, 2)
    assert rows(ws, "SELECT label, count(*) FROM images GROUP BY 1 ORDER BY 1") == [("cat", 6), ("dog", 5)]
    rejects = dict(rows(ws, "SELECT regexp_extract(path, '[^/]+$'), reason FROM rejects"))
    assert rejects["empty.png"] == "empty file (0 bytes)"
    assert rejects["truncated.png"].startswith("truncated or corrupt image")
    assert rows(ws, "SELECT name FROM classes ORDER BY class_id") == [("cat",), ("dog",)]


def test_content_id_is_the_hash_of_the_bytes(ws, image_folder):
    ingest(ws, IngestOptions(source=image_folder, split="train", workers=1))
    for path, image_id, size in rows(ws, "SELECT path, image_id, bytes FROM images"):
        data = ws.resolve_path(path).read_bytes()
        assert image_id == content_id(data) and size == len(data)


def test_alias_points_to_the_first_path_in_walk_order(ws, image_folder):
    ingest(ws, IngestOptions(source=image_folder, split="train", workers=1))
    (alias,) = rows(ws, "SELECT a.path, i.path FROM aliases a JOIN images i USING (image_id, split)")
    # files are walked in sorted order: copy.png comes before img0000.png
    assert alias[0].endswith("cat/img0000.png") and alias[1].endswith("cat/copy.png")


def test_reingest_adds_nothing(ws, image_folder):
    ingest(ws, IngestOptions(source=image_folder, split="train", workers=2))
    before = tree_digest(ws.tables_dir)
    r = ingest(ws, IngestOptions(source=image_folder, split="train", workers=2))
    assert (r.added, r.aliases, r.rejected, r.skipped) == (0, 0, 0, r.seen)
    assert tree_digest(ws.tables_dir) == before


def test_new_files_are_added_on_a_later_ingest(ws, image_folder):
    ingest(ws, IngestOptions(source=image_folder, split="train", workers=1))
    write_pngs(image_folder / "dog", 3, seed=99)  # overwrites img0000-2 of dog with new bytes? no: new names
    r = ingest(ws, IngestOptions(source=image_folder, split="train", workers=1))
    assert r.added == 0 and r.skipped == r.seen  # same names: the paths are known


def test_same_bytes_in_two_splits_are_two_rows(ws, tmp_path, image_folder):
    ingest(ws, IngestOptions(source=image_folder, split="train", workers=1))
    test = tmp_path / "test" / "cat"
    test.mkdir(parents=True)
    shutil.copy(image_folder / "cat" / "img0001.png", test / "leak.png")
    ingest(ws, IngestOptions(source=tmp_path / "test", split="test", workers=1))
    assert rows(ws, "SELECT count(DISTINCT split) FROM images GROUP BY image_id ORDER BY 1 DESC LIMIT 1") == [(2,)]


def test_unknown_class_fails_and_writes_nothing(ws, image_folder, tmp_path):
    ingest(ws, IngestOptions(source=image_folder, split="train", workers=1))
    val = tmp_path / "val"
    write_pngs(val / "bird", 2, seed=5)
    before = tree_digest(ws.tables_dir)
    with pytest.raises(UsageError, match="unknown classes: bird"):
        ingest(ws, IngestOptions(source=val, split="val", workers=1))
    assert tree_digest(ws.tables_dir) == before
    r = ingest(ws, IngestOptions(source=val, split="val", workers=1, add_classes=True))
    assert r.classes_added == ["bird"] and r.added == 2
    assert rows(ws, "SELECT class_id FROM classes WHERE name = 'bird'") == [(2,)]


def test_explicit_class_order(ws, image_folder):
    ingest(ws, IngestOptions(source=image_folder, split="train", classes=["dog", "cat"], workers=1))
    assert rows(ws, "SELECT name FROM classes ORDER BY class_id") == [("dog",), ("cat",)]


def test_unlabeled_folder_is_read_recursively(ws, tmp_path):
    write_pngs(tmp_path / "pool" / "a" / "b", 3, seed=3)
    write_pngs(tmp_path / "pool", 2, seed=4)
    r = ingest(ws, IngestOptions(source=tmp_path / "pool", split="unlabeled", workers=1))
    assert r.added == 5
    assert rows(ws, "SELECT count(*) FROM images WHERE label IS NULL AND true_label IS NULL") == [(5,)]


def test_withheld_labels_are_kept_apart(ws, image_folder, tmp_path):
    ingest(ws, IngestOptions(source=image_folder, split="train", workers=1))
    write_pngs(tmp_path / "pool" / "cat", 2, seed=7)
    ingest(ws, IngestOptions(source=tmp_path / "pool", split="unlabeled", withheld_labels=True, workers=1))
    assert rows(ws, "SELECT label, true_label FROM images WHERE split = 'unlabeled'") == [(None, "cat")] * 2


def test_listing_with_relative_paths(ws, tmp_path, image_folder):
    listing = tmp_path / "data" / "list.csv"
    listing.write_text(
        "path,label,split\ntrain/cat/img0000.png,cat,train\ntrain/dog/img0001.png,dog,val\n"
        "train/dog/img0002.png,,unlabeled\n"
    )
    r = ingest(ws, IngestOptions(source=listing, workers=1))
    assert r.added == 3
    got = rows(ws, "SELECT split, label FROM images ORDER BY split")
    assert got == [("train", "cat"), ("unlabeled", None), ("val", "dog")]


def test_listing_escaping_its_folder_is_refused(ws, tmp_path, image_folder):
    write_pngs(tmp_path / "outside", 1, seed=11)
    listing = tmp_path / "data" / "train" / "list.csv"
    listing.write_text("path\n../../outside/img0000.png\n")
    before = tree_digest(ws.tables_dir)
    with pytest.raises(UsageError, match="escapes"):
        ingest(ws, IngestOptions(source=listing, split="unlabeled", workers=1))
    assert tree_digest(ws.tables_dir) == before
    assert ingest(ws, IngestOptions(source=listing, split="unlabeled", workers=1, allow_outside=True)).added == 1


def test_listing_bad_split_is_refused(ws, tmp_path, image_folder):
    listing = tmp_path / "data" / "list.csv"
    listing.write_text("path,split\ntrain/cat/img0000.png,holdout\n")
    with pytest.raises(UsageError, match="split 'holdout'"):
        ingest(ws, IngestOptions(source=listing, workers=1))


def test_pixel_limit_rejects_big_images(ws, tmp_path):
    folder = tmp_path / "pool"
    folder.mkdir()
    Image.new("L", (200, 200)).save(folder / "big.png")
    Image.new("L", (10, 10)).save(folder / "small.png")
    r = ingest(ws, IngestOptions(source=folder, split="unlabeled", pixel_limit=1000, workers=1))
    assert r.added == 1 and r.rejected == 1
    assert rows(ws, "SELECT reason FROM rejects")[0][0].startswith("too many pixels: 200x200")


def test_parallel_and_serial_ingest_agree(tmp_path, image_folder):
    from plabel.workspace import init_workspace

    a, b = init_workspace(tmp_path / "a"), init_workspace(tmp_path / "b")
    ingest(a, IngestOptions(source=image_folder, split="train", workers=1))
    ingest(b, IngestOptions(source=image_folder, split="train", workers=2))
    q = "SELECT image_id, path, label, width, height, mode, format FROM images ORDER BY path"
    assert rows(a, q) == rows(b, q)
