"""The workspace: a folder of Parquet tables, a DuckDB catalog of views over them, a config.

    DIR/plabel.toml        config (marks the folder as a workspace)
    DIR/catalog.duckdb     one view per table, for the duckdb CLI and other tools
    DIR/tables/<name>/     Parquet files (Hive partitions `round=R/` where a table has rounds)
    DIR/checkpoints/<id>/  safetensors weights + JSON config
    DIR/train/             in-progress training state (resume)

Paths inside the workspace are stored relative to it, so a copied or moved workspace keeps
working; the catalog's views hold absolute paths and are rewritten when the folder moves.
"""
from __future__ import annotations

import glob
import hashlib
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import tomllib

from plabel import db, storage
from plabel.errors import UsageError, WorkspaceNotFound
from plabel.lock import write_lock
from plabel.schema import TableSchema, quote_ident, tables, views

CONFIG_FILE = "plabel.toml"
CATALOG_FILE = "catalog.duckdb"
CATALOG_STATE = ".catalog-state"
FORMAT = 1
SPLITS = ("train", "val", "test", "unlabeled")

CONFIG_TEMPLATE = """\
# plabel workspace. Keys under [run] are the options of `plabel run`; each is also a CLI option.
[workspace]
format = {format}
{classes_line}
"""


@dataclass
class Workspace:
    root: Path
    config: dict = field(default_factory=dict)

    @property
    def tables_dir(self) -> Path:
        return self.root / "tables"

    @property
    def checkpoints_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def train_dir(self) -> Path:
        return self.root / "train"

    @property
    def trash_dir(self) -> Path:
        return self.root / ".trash"

    def table_dir(self, name: str) -> Path:
        return self.tables_dir / name

    def round_dir(self, name: str, round: int) -> Path:
        return self.table_dir(name) / f"round={round}"

    def staging_dir(self, name: str, round: int) -> Path:
        """Where a round of a partitioned table is built before it is committed."""
        return self.table_dir(name) / ".staging" / f"round={round}"

    def commit_round(self, name: str, round: int, staging: Path) -> None:
        """Put a finished staging folder in place as round R of a table, retiring the one it replaces."""
        dest = self.round_dir(name, round)
        if dest.exists():
            storage.retire_dir(dest, self.trash_dir)
        storage.commit_dir(staging, dest)

    # -- paths of images ---------------------------------------------------------------
    def store_path(self, path: str | os.PathLike) -> str:
        """How a file path is stored: relative to the workspace when inside it."""
        absolute = os.path.abspath(path)  # string operations: this runs once per ingested file
        prefix = str(self.root) + os.sep
        return absolute[len(prefix):] if absolute.startswith(prefix) else absolute

    def resolve_path(self, stored: str) -> Path:
        p = Path(stored)
        return p if p.is_absolute() else self.root / p

    # -- tables --------------------------------------------------------------------------
    def has_files(self, schema: TableSchema) -> bool:
        return bool(self._glob(schema))

    def _glob(self, schema: TableSchema) -> list[str]:
        folder = glob.escape(str(self.table_dir(schema.name)))
        pattern = f"{folder}/{schema.partition}=*/*.parquet" if schema.partition else f"{folder}/*.parquet"
        return glob.glob(pattern)

    def view_sql(self, schema: TableSchema) -> str:
        """SELECT for a table's view: its files in schema order, or a typed empty table."""
        files = self._glob(schema)
        if not files:
            return schema.empty_select()
        cols = ", ".join(quote_ident(c) for c in schema.names)
        folder = str(self.table_dir(schema.name)).replace("'", "''")
        # Files are written in the definition's exact schema, so the oldest and the newest having
        # it means all do: a plain scan, which keeps DuckDB's statistics shortcuts. Otherwise a
        # column was added after some files were written: union the files by name, and union by
        # name with the typed empty table for a column that no file has yet (it reads as NULL).
        by_age = sorted(files, key=lambda f: os.stat(f).st_mtime_ns)
        expected = [c.name for c in schema.file_columns]
        uniform = all(pq.read_schema(f).names == expected for f in {by_age[0], by_age[-1]})
        union = "" if uniform else ", union_by_name = true"
        if schema.partition:
            scan = (f"read_parquet('{folder}/{schema.partition}=*/*.parquet', hive_partitioning = true, "
                    f"hive_types = {{'{schema.partition}': INTEGER}}{union})")
        else:
            scan = f"read_parquet('{folder}/*.parquet', hive_partitioning = false{union})"
        if uniform:
            return f"SELECT {cols} FROM {scan}"
        return f"SELECT {cols} FROM (SELECT * FROM {scan} UNION ALL BY NAME {schema.empty_select()})"

    def view_statements(self) -> list[str]:
        stmts = [
            f"CREATE OR REPLACE VIEW {quote_ident(s.name)} AS {self.view_sql(s)}"
            for s in tables().values()
        ]
        stmts += [f"CREATE OR REPLACE VIEW {quote_ident(v.name)} AS {v.sql}" for v in views().values()]
        return stmts

    def connect(self, sandbox: bool = False, allow_files: bool = False) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with one view per table and derived view.

        `sandbox` (for `plabel sql`): file access is limited to the workspace's tables unless
        `allow_files`, and the settings are locked so a query cannot lift the limit.
        """
        con = duckdb.connect(":memory:")
        con.execute("SET enable_progress_bar = false")  # it would draw on our stderr
        _create_views(con, self.view_statements())
        if sandbox:
            if not allow_files:
                tables_dir = str(self.tables_dir) + os.sep
                con.execute("SET allowed_directories = ?", [[tables_dir]])
                con.execute("SET enable_external_access = false")
            con.execute("SET autoinstall_known_extensions = false")
            con.execute("SET autoload_known_extensions = false")
            con.execute("SET lock_configuration = true")
        return con

    def sync_catalog(self) -> bool:
        """Rewrite catalog.duckdb's views when they are stale; best effort (False if busy)."""
        stmts = self.view_statements()
        names = [s.name for s in tables().values()] + list(views())
        fingerprint = hashlib.sha256("\n".join(stmts).encode()).hexdigest()
        state = self.root / CATALOG_STATE
        if state.exists() and state.read_text() == fingerprint and (self.root / CATALOG_FILE).exists():
            return True
        try:
            con = duckdb.connect(str(self.root / CATALOG_FILE))
        except duckdb.Error:
            return False  # another process has the catalog open; plabel never needs it itself
        try:
            existing = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
            for name in existing - set(names):
                con.execute(f"DROP VIEW {quote_ident(name)}")
            _create_views(con, stmts)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        storage.write_text_atomic(state, fingerprint)
        return True

    # -- writing -------------------------------------------------------------------------
    @contextmanager
    def writing(self, command: str = ""):
        """Hold the write lock; clean what a killed writer left; refresh the catalog after."""
        with write_lock(self.root, command) as stale:
            if stale is not None:  # what a killed writer left: temporary files, unnamed checkpoints
                storage.remove_tmp_files(self.tables_dir)
                storage.remove_tmp_files(self.train_dir)
                for p in [*self.checkpoints_dir.glob(".staging-*"), self.root / ".scratch"]:
                    shutil.rmtree(p, ignore_errors=True)
            yield stale
            self.sync_catalog()

    # -- one-off queries -----------------------------------------------------------------
    def rows(self, sql: str, params: list | dict | None = None) -> list[tuple]:
        """Rows of one query on a fresh connection (for small answers)."""
        con = self.connect()
        try:
            return db.rows(con, sql, params)
        finally:
            con.close()

    def scalar(self, sql: str, params: list | dict | None = None):
        result = self.rows(sql, params)
        return result[0][0] if result else None

    def class_names(self) -> list[str]:
        return [r[0] for r in self.rows("SELECT name FROM classes ORDER BY class_id")]


def _create_views(con: duckdb.DuckDBPyConnection, stmts: list[str]) -> None:
    # Derived views may read each other: retry the failures until a pass makes no progress.
    pending = list(stmts)
    while pending:
        failed = []
        for stmt in pending:
            try:
                con.execute(stmt)
            except duckdb.CatalogException:
                failed.append(stmt)
        if len(failed) == len(pending):
            con.execute(failed[0])  # raises the real error
        pending = failed


def init_workspace(path: str | os.PathLike, classes: list[str] | None = None) -> Workspace:
    """Create a workspace at `path` (an empty or new folder). Idempotent on a workspace."""
    root = Path(os.path.abspath(path))
    if (root / CONFIG_FILE).exists():
        return open_workspace(root)
    if root.exists() and not root.is_dir():
        raise UsageError(f"not a folder: {root}")
    if classes is not None:
        _check_class_names(classes)
    root.mkdir(parents=True, exist_ok=True)
    for sub in ("tables", "checkpoints"):
        (root / sub).mkdir(exist_ok=True)
    classes_line = f"classes = {list(classes)!r}".replace("'", '"') if classes else "# classes = [\"cat\", \"dog\"]  # fixes the class list before the first labeled ingest"
    storage.write_text_atomic(
        root / CONFIG_FILE, CONFIG_TEMPLATE.format(format=FORMAT, classes_line=classes_line)
    )
    ws = open_workspace(root)
    with ws.writing("plabel init"):
        pass
    return ws


def _check_class_names(classes: list[str]) -> None:
    if len(set(classes)) != len(classes):
        raise UsageError("class names must be unique")
    if any(not c or c != c.strip() for c in classes):
        raise UsageError("class names must be non-empty, without leading or trailing spaces")


def read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: invalid TOML: {e}") from None


def find_root(path: str | os.PathLike | None = None) -> Path:
    if path is None:
        path = os.environ.get("PLABEL_WORKSPACE") or os.getcwd()
    return Path(os.path.abspath(path))


def open_workspace(path: str | os.PathLike | None = None) -> Workspace:
    """Open the workspace at `path` (default: $PLABEL_WORKSPACE, else the current folder)."""
    root = find_root(path)
    config_path = root / CONFIG_FILE
    if not config_path.is_file():
        raise WorkspaceNotFound(f"not a plabel workspace: {root} (create one with `plabel init {root}`)")
    config = read_toml(config_path)
    fmt = config.get("workspace", {}).get("format")
    if fmt != FORMAT:
        raise UsageError(f"{config_path}: workspace format {fmt!r} is not supported (expected {FORMAT})")
    return Workspace(root, config)
