"""init, ingest, status, sql: the workspace and getting images in."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from plabel.cli import _options as opt
from plabel.cli._fields import with_fields
from plabel.cli._output import emit_json, emitted, error, info, print_table, warn
from plabel.cli.app import command
from plabel.ingest.options import IngestOptions
from plabel.status import status as workspace_status  # DuckDB only: `plabel --help` stays instant
from plabel.values import plain


@command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to make a workspace (created if missing).")],
    classes: Annotated[str | None, opt.option("Fix the class list now: comma-separated names, in id order.")] = None,
    json_output: opt.Json = False,
) -> None:
    """Create a workspace: tables folder, DuckDB catalog, plabel.toml."""
    from plabel.workspace import init_workspace

    ws = init_workspace(directory, classes.split(",") if classes else None)
    if json_output:
        emit_json({"workspace": str(ws.root)})
    else:
        info(f"Workspace ready: {ws.root}")


@command()
@with_fields(IngestOptions)
def ingest(
    source: Annotated[
        Path,
        typer.Argument(
            help=(
                "A folder (ImageFolder layout for train/val/test), a listing .csv/.parquet with columns "
                "path[, label][, split], or tar shards (WebDataset layout): a folder of .tar files, one .tar, "
                "a .txt listing of shards, or a brace pattern such as 'pool-{000000..000099}.tar'."
            )
        ),
    ],
    fields: dict[str, Any] | None = None,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
) -> None:
    """Register images: content ids, sizes, formats; unreadable files become rejects."""
    from plabel.ingest import ingest as run

    ws = opt.open_ws(workspace)
    r = run(ws, IngestOptions(source=source, **(fields or {})), progress=opt.progress(json_output))
    if emitted(r, json_output):
        return
    _said_ingested(r)


def _said_ingested(r: Any) -> None:
    if not r.committed:
        info(f"Staged {r.staged} units of {r.source} ({r.units} in all, {r.pending} still to stage by other tasks); "
             "the last task to finish commits (or `plabel commit`).")
        return
    if r.seen and r.skipped == r.seen:
        info(f"Nothing new: all {r.seen} files are already in the workspace.")
        return
    info(
        f"Ingested {r.source}: {r.added} new images, {r.aliases} aliases (same bytes), "
        f"{r.rejected} rejected, {r.skipped} already known ({r.files_per_s:,.0f} files/s)."
    )
    if r.classes_added:
        info(f"Classes added: {', '.join(r.classes_added)}")
    if r.label_conflicts:
        warn(f"{r.label_conflicts} aliases carry a label different from their image's")
    if r.reasons:
        print_table("Rejected files", ["reason", "files"], list(r.reasons.items()))


CATALOG_ADVICE = {
    "stale": "the duckdb CLI sees older views until the next writing command (or `plabel init` on this folder)",
    "missing": "the next writing command (or `plabel init` on this folder) creates it",
    "corrupt": "the next writing command (or `plabel init` on this folder) keeps it aside and rebuilds it",
    "foreign": "it is a link or holds more than plabel's views; plabel never touches it (remove or rename it)",
}


@command()
def commit(workspace: opt.Workspace = None, json_output: opt.Json = False) -> None:
    """Commit ingests staged by array tasks (`ingest --shards I/N`) once all their units are staged."""
    from plabel.ingest import commit_staged

    ws = opt.open_ws(workspace)
    results = commit_staged(ws, progress=opt.progress(json_output))
    if json_output:
        emit_json(plain(results))
    elif not results:
        info("Nothing staged to commit.")
    for r in [] if json_output else results:
        if r.committed:
            emitted(r, False)  # its notes
            _said_ingested(r)
        else:
            error(f"{r.source}: {r.pending} of {r.units} units still to stage; run the tasks that stage them "
                  "(`ingest --shards I/N`), then commit")
    if any(not r.committed for r in results):
        raise typer.Exit(1)


@command()
def status(workspace: opt.Workspace = None, json_output: opt.Json = False) -> None:
    """Images per split and class, aliases, rejects and rounds so far."""
    s = workspace_status(opt.open_ws(workspace))
    if emitted(s, json_output):
        return
    info(
        f"Workspace {s.workspace}: {s.images} images, {len(s.classes)} classes, {s.aliases} "
        f"aliases, {s.rejected} rejected"
    )
    if s.splits:
        print_table("Images per split", ["split", "images"], list(s.splits.items()))
    labeled = [r for r in s.per_class if r["class"] is not None]
    if labeled:
        splits = sorted({r["split"] for r in labeled})
        grid = {(r["class"], r["split"]): r["images"] for r in labeled}
        rows = [[c] + [grid.get((c, sp), 0) for sp in splits] for c in sorted({r["class"] for r in labeled})]
        print_table("Images per class (unlabeled: withheld labels)", ["class"] + splits, rows)
    if s.rejects:
        print_table("Rejects", ["stage", "reason", "files"], [list(r.values()) for r in s.rejects])
    if s.rounds:
        print_table(
            "Rounds", ["round", "checkpoints", "predictions", "manifest rows"], [list(r.values()) for r in s.rounds]
        )
    if s.dedup_thresholds:
        print_table(
            f"Dedup thresholds (round {s.dedup_thresholds[0]['round']})",
            ["signal", "scope", "threshold", "source", "recall", "est. fpr"],
            [[t["signal"], t["scope"], f"{t['threshold']:.4f}", t["source"], f"{t['recall']:.3f}", f"{t['fpr']:.4f}"]
             for t in s.dedup_thresholds],
        )
    if s.catalog != "fresh":
        warn(f"catalog.duckdb is {s.catalog}: {CATALOG_ADVICE.get(s.catalog, '')}")


@command()
def sql(
    query: Annotated[
        str, typer.Argument(help="SELECT (or WITH, DESCRIBE, SUMMARIZE, SHOW, EXPLAIN) over the workspace's views.")
    ],
    format: Annotated[str, opt.option("table, csv, json or parquet.", "--format", "-f")] = "table",
    output: Annotated[
        Path | None, opt.option("Write the result to this file instead of stdout.", "--output", "-o")
    ] = None,
    limit: Annotated[int, opt.option("Rows shown with --format table.", min=1)] = 100,
    allow_files: Annotated[
        bool, opt.option("Let the query read files outside the workspace's tables.", "--allow-files")
    ] = False,
    workspace: opt.Workspace = None,
) -> None:
    """Run a read-only SQL query (DuckDB) over every table and view."""
    import sys

    from plabel.errors import UsageError
    from plabel.readonly_sql import FORMATS, check_output, run_query, write_result

    if format not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
    if format == "table" and output is not None:
        raise UsageError("--output needs --format csv, json or parquet")
    ws = opt.open_ws(workspace)
    if output is not None:
        check_output(ws.root, output)
    result = run_query(ws, query, allow_files=allow_files)
    try:
        if format != "table":
            n = write_result(result, format, output, sys.stdout)
            if output:
                info(f"Wrote {n} rows to {output}")
            return
        rows: list[list[Any]] = []
        total = 0
        for batch in result.reader:
            for row in batch.to_pylist():
                if len(rows) < limit:
                    rows.append(list(row.values()))
                total += 1
        caption = f"{limit} of {total} rows shown (--limit)" if total > limit else f"{total} rows"
        print_table(None, result.columns, rows, caption=caption)
    finally:
        result.close()
