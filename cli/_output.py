"""All terminal output: messages and progress on stderr, requested data on stdout."""
from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import re
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import typer
import typer.models
from rich.console import Console
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Task as RichTask
from rich.table import Table
from rich.text import Text

from plabel import distributed
from plabel.errors import PlabelError
from plabel.progress import Task
from plabel.values import json_safe, plain

err = Console(stderr=True)
out = Console(soft_wrap=True)


MAX_PIPE_WIDTH = 1000  # a table printed to a pipe or file is as wide as it needs, up to this
_MUTED = False  # under torchrun, ranks other than 0 print errors only


def mute_other_ranks() -> None:
    """Join torchrun's process group (when under it); on ranks other than 0, print errors only."""
    global _MUTED
    from plabel import distributed

    distributed.init()
    _MUTED = not distributed.is_main()
    out.quiet = _MUTED


def emit_json(data: Any) -> None:
    """Machine-readable output: plain JSON on stdout, nothing else there."""
    if _MUTED:
        return
    sys.stdout.write(json.dumps(json_safe(data), indent=2, default=str) + "\n")
    sys.stdout.flush()


# Messages hold user text (paths, class names, SQL): it is printed as text, never read as Rich
# markup, so "[/x]" in a class name is shown as it is instead of raising MarkupError.
def _say(prefix: str, style: str, message: str) -> None:
    if _MUTED and not prefix.startswith("Error"):
        return
    message = with_flags(str(message))  # the library names options by field; here, by flag
    err.print(
        Text.assemble((prefix, style), str(message)) if prefix else Text(str(message)), highlight=False, soft_wrap=True
    )


def emitted(result: Any, json_output: bool) -> bool:
    """With --json, the result as JSON on stdout (True: nothing more to print); else its notes as warnings."""
    if json_output:
        emit_json(plain(result))
        return True
    for note in getattr(result, "notes", ()):
        warn(note)
    return False


def info(message: str) -> None:
    _say("", "", message)


def say_removed(round: int, removed: list[str]) -> None:
    """What replacing round R's predictions removed (made from the old ones), said once."""
    if removed:
        info(f"Removed round {round}'s {', '.join(removed)}: made from the replaced predictions "
             f"(run `plabel dedup` and `plabel select --round {round}` again).")


def warn(message: str) -> None:
    _say("Warning: ", "yellow", message)


def error(message: str) -> None:
    _say("Error: ", "red", message)


class _WarningHandler(logging.Handler):
    """The library's log warnings (e.g. a lock taken over from a dead writer) as CLI warnings."""

    def emit(self, record: logging.LogRecord) -> None:
        warn(record.getMessage())


def _route_library_warnings() -> None:
    logger = logging.getLogger("plabel")
    if not any(isinstance(h, _WarningHandler) for h in logger.handlers):
        logger.addHandler(_WarningHandler(logging.WARNING))
        logger.propagate = False


def print_table(title: str | None, columns: list[str], rows: list[Any], caption: str | None = None) -> None:
    """A Rich table on stdout. A number is never wrapped inside its cell (`7.439e-0` / `5`), and
    where stdout is not a terminal (a pipe, a file, CI) the table takes the width it needs."""
    table = Table(
        title=None if title is None else Text(str(title)),
        caption=None if caption is None else Text(str(caption)),
        show_lines=False,
        header_style="bold",
    )
    cells = [[_cell(v) for v in row] for row in rows]
    for k, c in enumerate(columns):
        numeric = all(row[k] is None or isinstance(row[k], int | float) for row in rows)
        widest = max((len(r[k]) for r in cells), default=0)
        table.add_column(Text(str(c)), overflow="fold", no_wrap=numeric, min_width=widest if numeric else None)
    for row in cells:
        table.add_row(*row)
    if out.is_terminal:
        out.print(table)
        return
    wide = out.options.update(width=1 << 16)  # measured without a limit: the width the table needs
    needed = min(Measurement.get(out, wide, table).maximum, MAX_PIPE_WIDTH)
    width, out.width = out.width, max(out.width, needed)
    try:
        out.print(table)
    finally:
        out.width = width


def _cell(value: Any) -> Text:
    if value is None:
        return Text("NULL", style="dim")
    if isinstance(value, float):
        return Text(f"{value:.4g}")
    return Text(str(value))


def _describe(e: Exception) -> str:
    """One line for an unexpected exception; a damaged Parquet file gets the way to repair it."""
    text = " ".join(str(e).split()) or "(no message)"
    if "magic bytes" in text.lower() or ("corrupt" in text.lower() and ".parquet" in text):
        from plabel.storage import REPAIR_HINT

        return f"{text}: a damaged Parquet file; {REPAIR_HINT}"
    return f"{type(e).__name__}: {text} (set PLABEL_DEBUG=1 for a traceback)"


_NAMED = re.compile(r"`([a-z][a-z0-9_]*)`")  # how a library message names an option: `field_name`
_COMMANDS: list[Callable[..., Any]] = []  # every command handle_errors wraps
_RUNNING: list[Callable[..., Any]] = []  # the command running now, if any (its own flags win)


def with_flags(message: str) -> str:
    """A library message names options by their field (`split`, `from_round`); on the command line
    each becomes its flag (--split, --from): the running command's own, else any command's.
    User text in a message (a path, a class name) that happens to read `like_this` is rewritten
    too: the message stays one line of plain text either way."""
    if "`" not in message:  # most messages name no option: no work on every progress line
        return message
    flags: dict[str, str] = {}
    for fn in [*_COMMANDS, *_RUNNING]:
        flags.update(_flags(fn))
    return _NAMED.sub(lambda m: flags.get(m.group(1), m.group(0)), message)


@functools.cache
def _flags(fn: Callable[..., Any]) -> dict[str, str]:
    """A command's options: parameter name (without typer's trailing _) -> its long flag."""
    out: dict[str, str] = {}
    for name, p in inspect.signature(fn, eval_str=True).parameters.items():
        for meta in getattr(p.annotation, "__metadata__", ()):
            if isinstance(meta, typer.models.OptionInfo):
                key = name.rstrip("_")
                # inside Annotated, typer reads Option's first argument as a flag, not a default
                given = (meta.default, *(meta.param_decls or ()))
                decls = [d.split("/")[0] for d in given if isinstance(d, str) and d.startswith("--")]
                out[key] = max(decls, key=len) if decls else "--" + key.replace("_", "-")
    return out


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Map library exceptions to one line on stderr and the exit code (2 usage, 1 runtime)."""

    _COMMANDS.append(fn)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _RUNNING[:] = [fn]  # one slot: a process runs one command (CliRunner runs many, one at a time)
        _route_library_warnings()
        mute_other_ranks()
        try:
            result = fn(*args, **kwargs)
            distributed.shutdown()  # every rank through: leave the process group before exit
            return result
        except PlabelError as e:
            error(str(e))
            raise typer.Exit(e.exit_code) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as e:
            if os.environ.get("PLABEL_DEBUG"):
                traceback.print_exc()
            else:
                error(_describe(e))
            raise typer.Exit(1) from None

    return wrapper


class RateColumn(ProgressColumn):
    def render(self, task: RichTask) -> Text:
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "it")
        return Text(f"{speed:,.1f} {unit}/s" if speed else f"- {unit}/s", style="cyan")


class _RichTask:
    def __init__(self, progress: Progress, task_id: TaskID) -> None:
        self.progress, self.task_id = progress, task_id

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.task_id, n)

    def close(self) -> None:
        self.progress.stop()


LINE_EVERY = 30.0  # seconds between progress lines where stderr is not a terminal
_last_line = [time.monotonic()]  # when a progress line was last printed (or the process started)


class _LineTask:
    """Progress where stderr is not a terminal (a pipe, a log file, CI): no bar, but a plain line at
    most every LINE_EVERY seconds across all tasks, so a long step never goes quiet for minutes,
    and a command shorter than that prints nothing more."""

    def __init__(self, description: str, total: int | None, unit: str):
        self.description, self.total, self.unit = description, total, unit
        self.done, self.started = 0, time.monotonic()

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - _last_line[0] < LINE_EVERY:
            return
        _last_line[0] = now
        rate = self.done / max(now - self.started, 1e-9)
        of = f"/{self.total:,}" if self.total else ""
        _say("", "", f"{self.description}: {self.done:,}{of} {self.unit} ({rate:,.1f} {self.unit}/s)")

    def close(self) -> None:
        pass


class RichProgress:
    """Progress bars with rate and ETA on stderr; where stderr is not a terminal, a plain line
    at most every LINE_EVERY seconds."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.bars = err.is_terminal

    def task(self, description: str, total: int | None = None, unit: str = "items") -> Task:
        from plabel.progress import NullTask

        if not self.enabled:
            return NullTask()
        if not self.bars:
            return _LineTask(description, total, unit)
        progress = Progress(
            TextColumn("{task.description}", style="bold", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=err,
            transient=False,
        )
        progress.start()
        return _RichTask(progress, progress.add_task(description, total=total, unit=unit))
