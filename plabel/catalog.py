"""catalog.duckdb: the workspace's views (and plabel's macros) in a DuckDB file, for other tools.

plabel never reads the catalog itself (every connection builds its views in memory); it is for
the duckdb CLI and other tools. It is built whole in a private folder (DuckDB mangles database
paths that hold a `?`) and published like every other file: a reader of the old one keeps it, a
kill leaves the old one. A catalog that is a link, has other names (hard links), or holds
anything but views and plabel's macros is not ours and is never touched.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

import duckdb

from plabel import db, storage
from plabel.queries import query

CATALOG_FILE = "catalog.duckdb"
CATALOG_STATE = ".catalog-state"  # the fingerprint of what the catalog was last built from


class CatalogProblem(Exception):
    """catalog.duckdb cannot be used: `state` says why (corrupt, foreign)."""

    def __init__(self, state: str, detail: str):
        super().__init__(detail)
        self.state = state


def state(root: Path, statements: list[str]) -> str:
    """fresh, stale, missing, corrupt or foreign."""
    try:
        foreign = _foreign(root)
    except CatalogProblem as e:
        return e.state
    if foreign is None:
        return "missing"
    if foreign:
        return "foreign"
    return "fresh" if _fingerprint_matches(root, statements) else "stale"


def sync(root: Path, statements: list[str]) -> str:
    """Rebuild the catalog from `statements` when stale; its state after. A corrupt catalog is
    kept aside as `catalog.duckdb.corrupt-<time>` and rebuilt."""
    if _fingerprint_matches(root, statements):
        return "fresh"
    path = root / CATALOG_FILE
    try:
        foreign = _foreign(root)
    except CatalogProblem as e:
        if e.state != "corrupt":
            return e.state
        os.replace(path, path.with_name(f"{CATALOG_FILE}.corrupt-{time.time_ns()}"))
        foreign = None
    if foreign:
        return "foreign"
    with tempfile.TemporaryDirectory(prefix="plabel-catalog-") as tmp:
        built = Path(tmp) / CATALOG_FILE
        with duckdb.connect(str(built)) as con:
            for statement in statements:
                con.execute(statement)
            con.execute("CHECKPOINT")
        staged = storage.tmp_path(path)
        try:
            shutil.copyfile(built, staged)
            storage.publish(staged, path)
        finally:
            staged.unlink(missing_ok=True)
    storage.write_text_atomic(root / CATALOG_STATE, _fingerprint(root, statements))
    return "fresh"


def _fingerprint(root: Path, statements: list[str]) -> str:
    """The views' SQL and the catalog file's identity: a file changed by others is re-checked."""
    path = root / CATALOG_FILE
    st = os.lstat(path) if os.path.lexists(path) else None
    identity = f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}" if st else "none"
    return hashlib.sha256("\n".join([identity, *statements]).encode()).hexdigest()


def _fingerprint_matches(root: Path, statements: list[str]) -> bool:
    saved = root / CATALOG_STATE
    return saved.is_file() and not saved.is_symlink() and saved.read_text() == _fingerprint(root, statements)


def _foreign(root: Path) -> bool | None:
    """Whether the catalog holds anything plabel never creates (None: there is no catalog);
    CatalogProblem when it is a link or not a database."""
    from plabel.workspace import shared_macros

    path = root / CATALOG_FILE
    if not os.path.lexists(path):
        return None
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
        raise CatalogProblem("foreign", f"{path} is a link or not a plain file")
    with tempfile.TemporaryDirectory(prefix="plabel-catalog-") as tmp:
        copy = Path(shutil.copyfile(path, Path(tmp) / CATALOG_FILE))
        try:
            con = duckdb.connect(str(copy), read_only=True)
        except duckdb.Error as e:
            raise CatalogProblem("corrupt", " ".join(str(e).split())) from None
        with con:
            found = db.rows(con, query("workspace/catalog_objects"))
    ours = {signature.split("(")[0] for signature in shared_macros()}
    return any(kind != "view" and not (kind == "function" and name in ours) for kind, name in found)
