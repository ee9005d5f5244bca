"""Inputs that used to hang, crash or slip through: FIFOs as shards and listings, a hard-linked lock,
unbounded brace patterns, control characters in class names, duplicate tar members, bad .cls text.
Each refusal is one line with exit code 2, and the workspace is unchanged."""
import io
import os
import subprocess
import sys
import tarfile

import pytest

from plabel.ingest.tars import MAX_SHARD_NAMES, brace_count
from plabel.workspace import init_workspace
from tests.helpers import tree_digest, write_pngs


def _tar(path, members: list[tuple[str, bytes]]) -> None:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _refused(cli, ws, *args, says: str):
    before = tree_digest(ws.root)
    r = cli(*args, "-w", ws.root)
    assert r.exit_code == 2 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.output
    assert tree_digest(ws.root) == before
    return r


def _fifo(path):
    os.mkfifo(path)
    return path


def test_fifos_as_shards_and_listings_never_hang(tmp_path):
    """In a subprocess with a deadline: the old code blocked forever in open()."""
    ws = init_workspace(tmp_path / "ws")
    good = write_pngs(tmp_path / "src", 2)
    folder = tmp_path / "shards"
    folder.mkdir()
    _tar(folder / "a.tar", [("k0.png", good[0].read_bytes())])
    _fifo(folder / "b.tar")
    listed = tmp_path / "list"
    listed.mkdir()
    _fifo(listed / "c.tar")
    (listed / "shards.txt").write_text("c.tar\n")
    cases = [(_fifo(tmp_path / "pool.tar"), "a FIFO"), (folder, "a FIFO"), (listed / "shards.txt", "a FIFO"),
             (_fifo(tmp_path / "listing.txt"), "a FIFO"), (_fifo(tmp_path / "listing.csv"), "a FIFO"),
             (_fifo(tmp_path / "listing.parquet"), "a FIFO")]
    before = tree_digest(ws.root)
    for source, says in cases:
        r = subprocess.run([sys.executable, "-m", "plabel", "ingest", str(source), "--split", "unlabeled",
                            "-w", str(ws.root)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1, (source, r.stderr)
    assert tree_digest(ws.root) == before


def test_a_hard_linked_lock_is_refused_and_its_target_kept(tmp_path, cli):
    ws = init_workspace(tmp_path / "ws")
    precious = tmp_path / "precious.txt"
    precious.write_text("do not truncate me")
    (ws.root / ".plabel.lock").unlink(missing_ok=True)
    os.link(precious, ws.root / ".plabel.lock")
    write_pngs(tmp_path / "data" / "cat", 2)
    r = cli("ingest", tmp_path / "data", "--split", "train", "-w", ws.root)
    assert r.exit_code == 2 and "hard link" in r.stderr, r.output
    assert precious.read_text() == "do not truncate me"
    assert ws.class_names() == []


def test_a_fifo_lock_never_hangs(tmp_path):
    ws = init_workspace(tmp_path / "ws")
    (ws.root / ".plabel.lock").unlink(missing_ok=True)
    os.mkfifo(ws.root / ".plabel.lock")
    r = subprocess.run([sys.executable, "-m", "plabel", "init", str(ws.root)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "not a plain file" in r.stderr, r.stderr


@pytest.mark.parametrize("pattern, count", [("p{0..9999999}.tar", 10_000_000), ("p{0..99999999}.tar", 100_000_000),
                                            ("p{0..999}{0..9999}.tar", 10_000_000)])
def test_a_huge_brace_pattern_is_counted_not_expanded(tmp_path, cli, pattern, count):
    ws = init_workspace(tmp_path / "ws")
    assert brace_count(pattern) == count > MAX_SHARD_NAMES
    r = _refused(cli, ws, "ingest", str(tmp_path / pattern), "--split", "unlabeled", says=f"{count:,} shards")
    assert f"{MAX_SHARD_NAMES:,}" in r.stderr


CONTROL = ["nul\x00x", "two\nlines", "tab\there", "bell\x07", "del\x7f", "esc\x1b[31m"]


@pytest.mark.parametrize("name", CONTROL)
def test_control_characters_in_class_names_are_refused_everywhere(tmp_path, cli, name):
    from plabel.errors import UsageError

    with pytest.raises(UsageError, match="control character"):
        init_workspace(tmp_path / "a", classes=["ok", name])
    assert not (tmp_path / "a").exists()
    ws = init_workspace(tmp_path / "ws")
    png = write_pngs(tmp_path / "src", 2)
    _tar(tmp_path / "s.tar", [("k0.png", png[0].read_bytes()), ("k0.txt", name.encode()),
                              ("k1.png", png[1].read_bytes()), ("k1.txt", b"ok")])
    _refused(cli, ws, "ingest", tmp_path / "s.tar", "--split", "train", says="control character")
    if "\x00" not in name:  # a folder name cannot hold NUL; the listing's label column can
        (tmp_path / "data" / name).mkdir(parents=True)
        write_pngs(tmp_path / "data" / name, 1)
        _refused(cli, ws, "ingest", tmp_path / "data", "--split", "train", says="control character")
    listing = tmp_path / "list.parquet"
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"path": [str(png[0])], "label": [name]}), listing)
    _refused(cli, ws, "ingest", listing, "--split", "train", "--allow-outside", says="control character")
    r = cli("init", tmp_path / "b", "--classes", f"ok,{name}")
    assert r.exit_code == 2 and "control character" in r.stderr and not (tmp_path / "b").exists(), r.output


def test_two_members_of_one_name_the_first_is_a_reject(tmp_path):
    from plabel.ingest import IngestOptions, ingest

    a, b = write_pngs(tmp_path / "src", 2)
    _tar(tmp_path / "s.tar", [("x/1.png", a.read_bytes()), ("x/1.png", b.read_bytes())])
    ws = init_workspace(tmp_path / "ws")
    r = ingest(ws, IngestOptions(source=tmp_path / "s.tar", split="unlabeled", workers=1))
    assert r.added == 1 and r.rejected == 1
    (reason,) = [x for (x,) in ws.rows("SELECT reason FROM rejects")]
    assert "same name" in reason
    from plabel.images import content_id

    assert ws.scalar("SELECT image_id FROM images") == content_id(b.read_bytes())  # the last, as tar extracts


@pytest.mark.parametrize("text", ["--1", "\u00b2", "1.5", "0x1", "cat"])
def test_a_cls_member_that_is_not_an_integer(tmp_path, cli, text):
    png = write_pngs(tmp_path / "src", 1)
    _tar(tmp_path / "s.tar", [("k0.png", png[0].read_bytes()), ("k0.cls", text.encode())])
    ws = init_workspace(tmp_path / "ws", classes=["a", "b"])
    _refused(cli, ws, "ingest", tmp_path / "s.tar", "--split", "train", says="k0.cls")


def test_a_300_character_class_name_exports_as_an_imagefolder(tmp_path):
    from plabel.export import NAME_BYTES, folder_name

    long_a, long_b = "a" * 299 + "x", "a" * 299 + "y"
    fa, fb = folder_name(long_a), folder_name(long_b)
    assert fa != fb and len(fa.encode()) <= NAME_BYTES and len(fb.encode()) <= NAME_BYTES
    assert folder_name("é" * 200) != folder_name("é" * 199 + "e") and len(folder_name("é" * 200)) <= NAME_BYTES
    (tmp_path / fa).mkdir()  # the file system takes it
