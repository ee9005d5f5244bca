"""Values several modules (and SQL) share, and numbers as JSON can hold them: one rule for every JSON plabel writes."""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

MAX_ROUND = 2**31 - 1  # rounds are the Hive partition `round=R/`, typed INTEGER
DEFAULT_THRESHOLD = 0.3  # select's confidence threshold (the paper's); SQL reads it as default_threshold()


def auto_or(value: str, convert: Callable[[str], T], option: str, expected: str) -> T | str:
    """An option that is `auto` or a value: `auto` as is, else `convert(value)`, else a usage error."""
    from plabel.errors import UsageError

    if value == "auto":
        return value
    try:
        return convert(value)
    except ValueError:
        raise UsageError(f"`{option}` must be {expected} (got {value!r})") from None


def as_dict(obj: Any) -> dict[str, Any]:
    """The one serializer of plabel's options and results: a dataclass's fields (nested dataclasses,
    lists and dicts of them too), plus the derived values its class maps in JSON_EXTRA (key ->
    property or method)."""
    out = {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    for key, name in getattr(obj, "JSON_EXTRA", {}).items():
        value = getattr(obj, name)
        out[key] = plain(value() if callable(value) else value)
    return out


def plain(value: Any) -> Any:
    """A value as JSON holds it: dataclasses as dicts (as_dict), inside lists, tuples and dicts too."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return as_dict(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


def json_safe(value: Any) -> Any:
    """NaN and infinities become null (JSON has neither), in nested dicts, lists and tuples too."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
