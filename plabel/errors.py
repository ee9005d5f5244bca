"""Exceptions with an exit code: the CLI maps each to one line on stderr."""
from typing import Any


class PlabelError(Exception):
    """A runtime failure (exit code 1)."""

    exit_code = 1


class UsageError(PlabelError):
    """Bad input from the user (exit code 2); raised before anything is written."""

    exit_code = 2


def check_finite(options: Any) -> None:
    """UsageError for the first float option (of a dataclass) that is NaN or infinite."""
    import dataclasses
    import math

    for f in dataclasses.fields(options):
        value = getattr(options, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"--{f.name.replace('_', '-')} must be a finite number (got {value})")


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
