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
import os
import shutil
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, get_args

import duckdb
import tomli_w
import tomllib

from plabel import db, shards, storage
from plabel.errors import DataError, UnknownRound, UsageError, WorkspaceNotFound
from plabel.lock import write_lock
from plabel.queries import query
from plabel.schema import TableSchema, quote_ident, quote_literal, table, tables, views
from plabel.values import DEFAULT_THRESHOLD

CONFIG_FILE = "plabel.toml"
FORMAT = 1
Split = Literal["train", "val", "test", "unlabeled"]
SPLITS = get_args(Split)
DISABLED_OPTIMIZERS = "window_self_join"  # gives wrong answers over Hive partitions (Workspace.connect)
HELD_OUT = ("val", "test")  # splits never trained on: an unlabeled image that duplicates one is excluded
# What a round's predictions (and the run that made them) give rise to, removed when they are replaced
DERIVED = ("selections", "selection_classes", "manifests", "duplicates", "dedup_thresholds", "embeddings")
MANIFEST_FILE = "manifest.parquet"

CONFIG_TEMPLATE = """\
# plabel workspace. Keys under [run] are the options of `plabel run`; each is also a CLI option.
[workspace]
format = {format}
{classes_line}
"""


@dataclass
class Workspace:
    root: Path
    config: dict[str, Any] = field(default_factory=dict)
    # the fixed folders of a workspace (see the module's docstring)
    tables_dir: Path = field(init=False, repr=False, compare=False)
    checkpoints_dir: Path = field(init=False, repr=False, compare=False)
    train_dir: Path = field(init=False, repr=False, compare=False)
    trash_dir: Path = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.tables_dir, self.checkpoints_dir, self.train_dir, self.trash_dir = (
            self.root / name for name in ("tables", "checkpoints", "train", ".trash")
        )

    def table_dir(self, name: str) -> Path:
        return self.tables_dir / name

    def round_dir(self, name: str, round: int) -> Path:
        return self.table_dir(name) / f"round={round}"

    def staging_dir(self, name: str, round: int) -> Path:
        """Where a round of a partitioned table is built before it is committed."""
        return self.table_dir(name) / ".staging" / f"round={round}"

    def has_round(self, name: str, round: int) -> bool:
        """Whether round R of a partitioned table is committed: a committed round always holds a
        part file (an empty one when it has no rows); a folder without any lost its files by hand."""
        return any(self.round_dir(name, round).glob("*.parquet"))

    def rounds(self, name: str) -> list[int]:
        """The committed rounds of a partitioned table."""
        folder = self.table_dir(name)
        numbers = [p.name[len("round="):] for p in folder.glob("round=*")] if folder.is_dir() else []
        return sorted(int(n) for n in numbers if n.isdigit() and self.has_round(name, int(n)))

    def newest_round(self, name: str) -> int:
        """The newest committed round of a table (checkpoints: the newest trained round)."""
        if name == "checkpoints":
            found = self.scalar(query("workspace/newest_checkpoint_round"))
            found = [] if found is None else [found]
        else:
            found = self.rounds(name)
        if not found:
            what = {"checkpoints": "no checkpoint yet: run `plabel train --round 0 --model NAME` first"}
            raise UnknownRound(what.get(name, f"no round has {name} yet"))
        return int(max(found))

    def manifest_path(self, round: int, staged: bool = False) -> Path:
        """Round R's manifest (the one file of `manifests` round R), or where it is built."""
        folder = self.staging_dir("manifests", round) if staged else self.round_dir("manifests", round)
        return folder / MANIFEST_FILE

    def fresh_staging(self, name: str, round: int) -> Path:
        """Round R's staging folder of a table, emptied of what a killed writer left half built."""
        staging = self.staging_dir(name, round)
        if staging.exists():
            storage.retire_dir(staging, self.trash_dir)
        return staging

    def commit_round(self, name: str, round: int, staging: Path) -> None:
        """Put a finished staging folder in place as round R of a table, retiring the one it replaces."""
        dest = self.round_dir(name, round)
        if dest.exists():
            storage.retire_dir(dest, self.trash_dir)
        storage.commit_dir(staging, dest)

    def retire_derived(self, round: int) -> list[str]:
        """Remove what was made from round R's predictions (before they are replaced): the tables
        of DERIVED that hold round R, selections first (a selections row promises its manifest).
        Returns their names. The caller holds the write lock."""
        removed = []
        for name in DERIVED:
            if self.round_dir(name, round).exists():
                storage.retire_dir(self.round_dir(name, round), self.trash_dir)
                removed.append(name)
        return removed

    # -- paths of images ---------------------------------------------------------------
    def store_path(self, path: str | os.PathLike[str]) -> str:
        """How a file path is stored: relative to the workspace when inside it."""
        absolute = os.path.abspath(path)  # string operations: this runs once per ingested file
        prefix = str(self.root) + os.sep
        return absolute[len(prefix):] if absolute.startswith(prefix) else absolute

    def resolve_path(self, stored: str) -> Path:
        p = Path(stored)
        return p if p.is_absolute() else self.root / p

    def source(self, path: str, shard: str | None, offset: int | None, size: int | None) -> str:
        """What a reader opens for an image row (path, shard, member_offset, bytes): a file's
        resolved path, or a tar shard member's locator (plabel.shards)."""
        if shard is None:
            return str(self.resolve_path(path))
        if offset is None or size is None:  # ingest writes all three: a crafted or damaged row
            raise DataError(f"image {path!r} names shard {shard!r} but no member_offset or bytes")
        return shards.source_of(str(self.resolve_path(shard)), offset, size)

    def sources(self, paths: list[str], shards_: list[Any], offsets: list[Any], sizes: list[Any]) -> list[str]:
        """`source` over columns."""
        return [self.source(*row) for row in zip(paths, shards_, offsets, sizes, strict=True)]

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
        folder = storage.literal_path(self.table_dir(schema.name)).replace("'", "''")
        # Files are written in the definition's exact schema, so the oldest and the newest having
        # it means all do: a plain scan, which keeps DuckDB's statistics shortcuts. Otherwise a
        # column was added after some files were written: union the files by name, and union by
        # name with the typed empty table for a column that no file has yet (it reads as NULL).
        by_age = sorted(files, key=lambda f: os.stat(f).st_mtime_ns)
        expected = [c.name for c in schema.file_columns]
        uniform = all(storage.footer(f).schema.to_arrow_schema().names == expected for f in {by_age[0], by_age[-1]})
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
        stmts = [f"CREATE OR REPLACE MACRO {signature} AS {body}" for signature, body in shared_macros().items()]
        stmts += [
            f"CREATE OR REPLACE VIEW {quote_ident(s.name)} AS {self.view_sql(s)}"
            for s in tables().values()
        ]
        stmts += [f"CREATE OR REPLACE VIEW {quote_ident(v.name)} AS {v.sql}" for v in views().values()]
        return stmts

    def connect(
        self, sandbox: bool = False, allow_files: bool = False, temp_directory: str | None = None
    ) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with one view per table and derived view.

        `sandbox` (for `plabel sql`, the second wall behind its parser check): file access is
        limited to the workspace's tables unless `allow_files`, and the settings are locked so a
        query cannot lift the limit.
        """
        con = duckdb.connect(":memory:")
        con.execute("SET enable_progress_bar = false")  # it would draw on our stderr
        # DuckDB 2.0's window_self_join rewrite copies a Hive-partitioned scan without its partition
        # filter: count(*) OVER (PARTITION BY image_id) ... WHERE round = 0 counted every round
        # (docs/sql.md has the reproduction). Off for every connection, `plabel sql`'s included.
        con.execute("SET disabled_optimizers = ?", [DISABLED_OPTIMIZERS])
        if temp_directory is not None:
            con.execute("SET temp_directory = ?", [temp_directory])
        _create_views(con, self.view_statements())
        if sandbox:
            if not allow_files:
                # the views name the folder as a literal glob pattern, the files they expand to plainly
                tables = [str(self.tables_dir) + os.sep, storage.literal_path(self.tables_dir) + os.sep]
                con.execute("SET allowed_directories = ?", [sorted(set(tables))])
                con.execute("SET enable_external_access = false")
            con.execute("SET autoinstall_known_extensions = false")
            con.execute("SET autoload_known_extensions = false")
            con.execute("SET lock_configuration = true")
        return con

    def refresh_views(self, con: duckdb.DuckDBPyConnection) -> None:
        """Define the views of an open connection again: a view is fixed when it is made (a table
        without files reads as a typed empty table until then), so a long-lived reader refreshes
        them after a commit."""
        _create_views(con, self.view_statements())

    # -- catalog.duckdb (plabel.catalog) ---------------------------------------------------
    def catalog_state(self) -> str:
        """fresh, stale, missing, corrupt or foreign: what `plabel status` reports."""
        from plabel import catalog

        return catalog.state(self.root, self.view_statements())

    def sync_catalog(self) -> str:
        """Rebuild catalog.duckdb when stale (writers only, under the lock); its state after."""
        from plabel import catalog

        return catalog.sync(self.root, self.view_statements())

    # -- writing -------------------------------------------------------------------------
    @contextmanager
    def writing(self, command: str = "") -> Iterator[dict[str, Any] | None]:
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
    def rows(self, sql: db.Sql, params: db.Params = None) -> list[tuple[Any, ...]]:
        """Rows of one query on a fresh connection (for small answers)."""
        with self.connect() as con:
            return db.rows(con, sql, params)

    def scalar(self, sql: db.Sql, params: db.Params = None) -> Any:
        result = self.rows(sql, params)
        return result[0][0] if result else None

    def class_names(self) -> list[str]:
        return [name for _, name in self.rows(query("workspace/classes"))]

    def append_classes(self, names: list[str]) -> None:
        """Add classes after the existing ones (ids follow on); the only writer of `classes`.
        The caller holds the write lock."""
        existing = self.class_names()
        check_class_names(existing + list(names))
        first, now = len(existing), datetime.now(timezone.utc)
        rows = [{"class_id": first + i, "name": name, "added_at": now} for i, name in enumerate(names)]
        storage.write_rows(rows, self.table_dir("classes") / storage.part_name(), table("classes"))


def shared_macros() -> dict[str, str]:
    """Facts that Python owns and SQL reads, as macros on every connection (and in catalog.duckdb):
    written once here, never as literals in a query file."""
    return {"held_out(split)": f"split IN ({', '.join(quote_literal(s) for s in HELD_OUT)})",
            "default_threshold()": quote_literal(DEFAULT_THRESHOLD)}


def _create_views(con: duckdb.DuckDBPyConnection, stmts: list[str]) -> None:
    # the tables' views, then the derived ones in dependency order (schema.views): one pass
    for stmt in stmts:
        con.execute(stmt)


def init_workspace(path: str | os.PathLike[str], classes: list[str] | None = None) -> Workspace:
    """Create a workspace at `path` (an empty or new folder).

    On an existing workspace it only refreshes catalog.duckdb, and refuses `classes` that differ
    from the workspace's (they cannot change once fixed).
    """
    root = Path(os.path.abspath(path))
    if (root / CONFIG_FILE).exists():
        ws = open_workspace(root)
        if classes is not None:
            have = ws.class_names() or ws.config.get("workspace", {}).get("classes")
            if not have:
                raise UsageError(f"{root} is already a workspace: give the classes to the first labeled "
                                 "ingest instead (`plabel ingest DIR --split train --classes ...`)")
            if list(classes) != list(have):
                raise UsageError(f"{root} is already a workspace with classes {', '.join(have)}; `classes` "
                                 "cannot change them (`plabel ingest --add-classes` appends new ones)")
        _write_init(ws, classes)  # the same init again: what a killed one left undone
        return ws
    if root.exists() and not root.is_dir():
        raise UsageError(f"not a folder: {root}")
    if classes is not None:
        check_class_names(classes)
    root.mkdir(parents=True, exist_ok=True)
    for sub in ("tables", "checkpoints"):
        (root / sub).mkdir(exist_ok=True)
    unset = '# classes = ["cat", "dog"]  # fixes the class list before the first labeled ingest'
    classes_line = f"classes = {toml_value(list(classes))}" if classes else unset
    storage.write_text_atomic(root / CONFIG_FILE, CONFIG_TEMPLATE.format(format=FORMAT, classes_line=classes_line))
    ws = open_workspace(root)
    _write_init(ws, classes)
    return ws


def _write_init(ws: Workspace, classes: list[str] | None) -> None:
    with ws.writing("plabel init"):
        if classes and not ws.class_names():
            ws.append_classes(list(classes))


def toml_value(value: Any) -> str:
    """A Python value as TOML text (for plabel.toml and `--set KEY=VALUE`), by a TOML writer."""
    return tomli_w.dumps({"v": value})[len("v = ") :].rstrip("\n")


def check_class_names(classes: list[str]) -> None:
    """The one rule for class names, wherever they enter (init, ingest's folders, listings, shard
    label members, --classes): unique, non-empty, no outer spaces, no control characters (a NUL or
    a newline breaks the Label Studio config, CSV exports and one-line messages)."""
    if len(set(classes)) != len(classes):
        raise UsageError("class names must be unique")
    if any(not c or c != c.strip() for c in classes):
        raise UsageError("class names must be non-empty, without leading or trailing spaces")
    bad = next((c for c in classes if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in c)), None)
    if bad is not None:
        raise UsageError(f"class name {ascii(bad)} holds a control character (or bytes that are not UTF-8); "
                         "class names are printable text")


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: invalid TOML: {e}") from None


def find_root(path: str | os.PathLike[str] | None = None) -> Path:
    if path is None:
        path = os.environ.get("PLABEL_WORKSPACE") or os.getcwd()
    return Path(os.path.abspath(path))


def open_workspace(path: str | os.PathLike[str] | None = None) -> Workspace:
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
