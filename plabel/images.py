"""Reading image files safely: every failure becomes a one-line reason, never a crash or a hang."""
from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import stat
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from plabel import shards

DEFAULT_PIXEL_LIMIT = 89_478_485  # Pillow's own default for MAX_IMAGE_PIXELS
ID_LENGTH = 32


class RejectedImage(Exception):
    """The file cannot be used; the message is the reason recorded in `rejects`."""


@dataclass(frozen=True)
class ImageInfo:
    image_id: str
    bytes: int
    width: int
    height: int
    mode: str
    format: str


def content_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:ID_LENGTH]


def read_bytes(path: str) -> bytes:
    """The file's (or shard member's) bytes; refuses what is not a readable regular file (FIFOs
    would hang)."""
    if shards.is_locator(path):
        return _member_bytes(path)
    try:
        st = os.stat(path)
    except OSError as e:
        raise RejectedImage(_os_reason(e)) from None
    if not stat.S_ISREG(st.st_mode):
        raise RejectedImage("not a regular file")
    if st.st_size == 0:
        raise RejectedImage("empty file (0 bytes)")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            return f.read()
    except OSError as e:
        raise RejectedImage(_os_reason(e)) from None


def _member_bytes(source: str) -> bytes:
    try:
        data = shards.read(source)
    except OSError as e:
        raise RejectedImage(f"shard: {_os_reason(e)}") from None
    except EOFError as e:
        raise RejectedImage(f"truncated shard: {e}") from None
    if not data:
        raise RejectedImage("empty file (0 bytes)")
    return data


def _os_reason(e: OSError) -> str:
    return {
        errno.ENOENT: "file not found",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ELOOP: "symlink loop",
        errno.EISDIR: "is a folder",
    }.get(e.errno or 0, f"cannot read: {e.strerror or e}")


def _open(data: bytes, pixel_limit: int) -> Image.Image:
    try:
        im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise RejectedImage("too many pixels (decompression bomb)") from None
    except UnidentifiedImageError:
        raise RejectedImage("not an image (format not recognised)") from None
    except Exception as e:  # Pillow raises many types on hostile headers
        kind = "truncated or corrupt image" if "trunc" in str(e).lower() else "not an image"
        raise RejectedImage(f"{kind}: {one_line(e)}") from None
    w, h = im.size
    if w <= 0 or h <= 0:
        raise RejectedImage(f"invalid size {w}x{h}")
    if w * h > pixel_limit:
        raise RejectedImage(f"too many pixels: {w}x{h} exceeds the limit of {pixel_limit}")
    return im


def _load(im: Image.Image) -> None:
    try:
        im.load()
    except Image.DecompressionBombError:
        raise RejectedImage("too many pixels (decompression bomb)") from None
    except Exception as e:
        raise RejectedImage(f"truncated or corrupt image: {one_line(e)}") from None


@contextmanager
def quiet_pillow() -> Iterator[None]:
    """Silence Pillow's warnings (our own pixel limit decides); use around a batch of files."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.simplefilter("ignore", UserWarning)  # e.g. "Truncated File Read", "Corrupt EXIF data"
        yield


def one_line(e: Exception) -> str:
    """An exception's message on one line, at most 200 characters (its type when it has none)."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:200]


def probe(data: bytes, pixel_limit: int = DEFAULT_PIXEL_LIMIT) -> tuple[ImageInfo, Image.Image]:
    """Decode the bytes fully (a truncated file fails here): the image's description, and the
    decoded image (what a caller computes more from, such as plabel.fingerprints)."""
    im = _open(data, pixel_limit)
    fmt, mode = im.format or "unknown", im.mode
    _load(im)
    w, h = im.size
    orientation = _orientation(im)
    if orientation in (5, 6, 7, 8):
        w, h = h, w
    return ImageInfo(content_id(data), len(data), w, h, mode, fmt), im


def _orientation(im: Image.Image) -> int:
    if "exif" not in im.info and im.format not in ("TIFF", "MPO"):
        return 1  # parsing an absent EXIF block costs as much as decoding a small image
    try:
        return int(im.getexif().get(0x0112, 1))
    except Exception:
        return 1


def to_rgb(im: Image.Image) -> Image.Image:
    """Normalise any decoded image to 8-bit RGB: EXIF orientation, first frame, alpha on white."""
    if _orientation(im) != 1:
        with contextlib.suppress(Exception):  # a broken EXIF block: keep the image as stored
            im = ImageOps.exif_transpose(im)
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode != "I" or arr.max() > 255 else 255.0
        im = Image.fromarray(np.clip(arr / top * 255.0, 0, 255).astype(np.uint8), "L")
    elif im.mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        im = Image.fromarray(np.clip(arr * (255.0 if arr.max() <= 1 else 1.0), 0, 255).astype(np.uint8), "L")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, im.convert("RGBA"))
    return im.convert("RGB")


def load_rgb(path: str, pixel_limit: int = DEFAULT_PIXEL_LIMIT) -> Image.Image:
    """Read, decode and normalise an image file to RGB, or raise RejectedImage."""
    return decode_rgb(read_bytes(path), pixel_limit)


def decode_rgb(data: bytes, pixel_limit: int = DEFAULT_PIXEL_LIMIT) -> Image.Image:
    """Decode and normalise image bytes to RGB, or raise RejectedImage."""
    with quiet_pillow():
        im = _open(data, pixel_limit)
        _load(im)
        return to_rgb(im)
