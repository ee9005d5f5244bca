"""Hostile and unusual image files: each is decoded correctly or rejected with its reason."""
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from plabel.images import RejectedImage, load_rgb
from plabel.ingest import IngestOptions, ingest
from plabel.workspace import init_workspace


@pytest.fixture(autouse=True)
def no_hang():
    """A test that hangs fails instead (a FIFO read, say)."""
    def fail(*_):
        raise TimeoutError("hung for 60 s")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def png_bytes(size=(16, 12)) -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def jpeg_bytes() -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def make_zoo(folder):
    """name -> (expected reason prefix, or None when it must decode)."""
    folder.mkdir(parents=True)
    zoo = {}

    def put(name, data, expect):
        (folder / name).write_bytes(data)
        zoo[name] = expect

    put("empty.png", b"", "empty file")
    put("truncated.png", png_bytes()[:-40], "truncated or corrupt")
    put("truncated.jpg", jpeg_bytes()[:300], "truncated or corrupt")
    put("png_named.jpg", png_bytes(), None)
    put("page.jpg", b"<!DOCTYPE html><html><body>Not found</body></html>\n", "not an image")
    Image.new("CMYK", (20, 10), (0, 128, 255, 0)).save(folder / "cmyk.jpg")
    zoo["cmyk.jpg"] = None
    Image.fromarray((np.arange(200).reshape(10, 20) * 300).astype(np.uint16)).save(folder / "sixteen.png")
    zoo["sixteen.png"] = None
    pal = Image.new("P", (10, 10), 0)
    pal.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    pal.save(folder / "palette.png", transparency=0)
    zoo["palette.png"] = None
    rot = Image.new("RGB", (30, 10), (200, 0, 0))
    exif = rot.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    rot.save(folder / "rotated.jpg", exif=exif.tobytes())
    zoo["rotated.jpg"] = None
    frames = [Image.new("RGB", (8, 8), (i * 60, 0, 0)) for i in range(3)]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:])
    zoo["animated.gif"] = None
    Image.new("1", (30000, 30000)).save(folder / "bomb.png")  # 900 megapixels in a few kB
    zoo["bomb.png"] = "too many pixels"
    os.symlink("loop_b.png", folder / "loop_a.png")
    os.symlink("loop_a.png", folder / "loop_b.png")
    zoo["loop_a.png"] = zoo["loop_b.png"] = "symlink loop"
    os.mkfifo(folder / "fifo.png")
    zoo["fifo.png"] = "not a regular file"
    bad_name = os.fsencode(str(folder)) + b"/caf\xe9.png"  # Latin-1, not UTF-8
    with open(bad_name, "wb") as f:
        f.write(png_bytes())
    zoo["caf\\xe9.png"] = "file name is not valid UTF-8"
    return zoo


def test_ingest_decodes_or_rejects_every_file(tmp_path):
    zoo = make_zoo(tmp_path / "pool")
    ws = init_workspace(tmp_path / "ws")
    r = ingest(ws, IngestOptions(source=tmp_path / "pool", split="unlabeled", workers=2))
    con = ws.connect()
    rejects = {os.path.basename(p): reason for p, reason in con.execute("SELECT path, reason FROM rejects").fetchall()}
    images = {os.path.basename(p): (w, h, mode, fmt) for p, w, h, mode, fmt in
              con.execute("SELECT path, width, height, mode, format FROM images").fetchall()}
    for name, expect in zoo.items():
        if expect is None:
            assert name in images, (name, rejects.get(name))
        else:
            assert rejects.get(name, "").startswith(expect), (name, rejects.get(name))
    assert r.added + r.rejected == len(zoo)
    assert images["png_named.jpg"][3] == "PNG"  # the bytes decide, not the extension
    assert images["rotated.jpg"][:2] == (10, 30)  # EXIF orientation applied to the size
    assert images["cmyk.jpg"][2] == "CMYK" and images["sixteen.png"][2] == "I;16"


def test_decoding_for_training_and_inference(tmp_path):
    zoo = make_zoo(tmp_path / "pool")
    for name, expect in zoo.items():
        path = str(tmp_path / "pool" / name) if "\\x" not in name else None
        if path is None:
            continue
        if expect is None:
            im = load_rgb(path)
            assert im.mode == "RGB" and min(im.size) > 0, name
        else:
            with pytest.raises(RejectedImage):
                load_rgb(path)
    rotated = load_rgb(str(tmp_path / "pool" / "rotated.jpg"))
    assert rotated.size == (10, 30)
    palette = np.asarray(load_rgb(str(tmp_path / "pool" / "palette.png")))
    assert (palette == 255).all()  # index 0 is transparent: composited on white
    sixteen = np.asarray(load_rgb(str(tmp_path / "pool" / "sixteen.png")))
    assert sixteen.max() > 200 and sixteen.min() == 0  # 16 bits scaled to 8, not clipped


INGEST = """
import sys
from plabel.ingest import IngestOptions, ingest
from plabel.workspace import open_workspace
ingest(open_workspace(sys.argv[1]), IngestOptions(source=sys.argv[2], split="unlabeled", workers=1))
"""


def test_unreadable_file_is_rejected(tmp_path):
    folder = tmp_path / "pool"
    folder.mkdir()
    (folder / "secret.png").write_bytes(png_bytes())
    (folder / "fine.png").write_bytes(png_bytes((8, 8)))
    os.chmod(folder / "secret.png", 0)
    ws = init_workspace(tmp_path / "ws")
    if os.geteuid() == 0:  # root reads anything: ingest without the capabilities that let it
        if not shutil.which("setpriv"):
            pytest.skip("running as root without util-linux setpriv to drop CAP_DAC_OVERRIDE")
        r = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--",
                            sys.executable, "-c", INGEST, str(ws.root), str(folder)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    else:
        ingest(ws, IngestOptions(source=folder, split="unlabeled", workers=1))
    con = ws.connect()
    assert con.execute("SELECT reason FROM rejects").fetchall() == [("permission denied",)]
    assert con.execute("SELECT count(*) FROM images").fetchall() == [(1,)]
