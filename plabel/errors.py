"""Exceptions with an exit code: the CLI maps each to one line on stderr."""
from typing import Any


class PlabelError(Exception):
    """A runtime failure (exit code 1)."""

    exit_code = 1


class UsageError(PlabelError):
    """Bad input from the user (exit code 2); raised before anything is written."""

    exit_code = 2


def check_fields(options: Any) -> None:
    """The checks every options dataclass shares: a UsageError for the first float field that is
    NaN or infinite, or the first field typed `Literal[...]` (its choices, written once) whose
    value is not one of them."""
    import dataclasses
    import math
    import typing

    from plabel.fields import choices

    hints = typing.get_type_hints(type(options))
    for f in dataclasses.fields(options):
        value = getattr(options, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"`{f.name}` must be a finite number (got {value})")
        allowed = choices(hints[f.name])
        if allowed and value not in allowed and not (value is None and _optional(hints[f.name])):
            raise UsageError(f"`{f.name}` must be one of {', '.join(map(str, allowed))} (got {value!r})")


def _optional(hint: Any) -> bool:
    import typing

    return type(None) in typing.get_args(hint)


class WorkspaceNotFound(UsageError):
    """The folder is not a plabel workspace."""


class UnknownRound(UsageError):
    """A round, or the table a round needs, does not exist."""


class UnknownCheckpoint(UsageError):
    """No checkpoint with that id."""


class ReadOnlyViolation(UsageError):
    """A statement given to `plabel sql` would write or reach outside the workspace."""


class LockHeld(PlabelError):
    """Another process holds the workspace's write lock."""


class CheckpointError(PlabelError):
    """A checkpoint's files are missing, corrupt or do not match each other."""


class TrainingDiverged(PlabelError):
    """The loss became NaN or infinite: the run stops and no checkpoint is written."""


class DataError(PlabelError):
    """Inputs on disk are missing or unreadable."""
