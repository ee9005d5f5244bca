"""Prediction files from elsewhere as uniform records: timm's `inference.py` outputs as they are
(csv, parquet, json, json-split, json-records), and a generic form of the same columns.

A record is (key, outputs, indices, labels): the key names the image (`filename`, `path` or
`image_id`); outputs are probabilities or logits (top-k, or one per class); indices (`index`)
and labels (`label`) name the classes of top-k outputs. timm's `--results-separate-col` form
(`prob_0`, `prob_1`, ...) is gathered back into lists.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from plabel.errors import UsageError
from plabel.images import one_line

KEY_COLUMNS = ("filename", "path", "image_id")
OUTPUT_COLUMNS = {"prob": "prob", "probs": "prob", "logit": "logit", "logits": "logit"}
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf|infinity)", re.IGNORECASE)
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")


@dataclass
class Records:
    key_column: str
    keys: list[str]
    outputs: list[list[float]]
    output_type: str  # prob or logit
    indices: list[list[int]] | None
    labels: list[list[str]] | None


def read_table(file: Path) -> pa.Table:
    """The file as a table, by its extension: .parquet, .csv, .json (timm's index, split or
    records orients) or .jsonl (one record per line)."""
    suffix = file.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(file)
        if suffix == ".csv":
            import pyarrow.csv as pcsv

            text = {c: pa.string() for c in (*KEY_COLUMNS, "label")}  # ids of digits only stay text
            return pcsv.read_csv(file, convert_options=pcsv.ConvertOptions(column_types=text))
        if suffix in (".json", ".jsonl"):
            return _json_table(_json_records(file))
    except UsageError:
        raise
    except Exception as e:
        raise UsageError(f"{file}: cannot be read as {suffix[1:] or 'a table'} ({one_line(e)})") from None
    raise UsageError(f"{file}: expected .parquet, .csv, .json or .jsonl predictions")


def _json_table(records: list[dict[str, Any]]) -> pa.Table:
    """Records as a table; a column whose cells Arrow cannot give one type (`[1, 2]` beside
    `["x", 2]`) is kept as each cell's JSON text, so the strict cell parser names the bad row."""
    if not all(isinstance(r, dict) for r in records):
        raise UsageError("JSON predictions must be records (objects)")
    names = list(dict.fromkeys(k for r in records for k in r))
    columns = {}
    for name in names:
        values = [r.get(name) for r in records]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            columns[name] = pa.array([None if v is None else json.dumps(v) for v in values], pa.string())
    return pa.table(columns)


def _json_records(file: Path) -> list[dict[str, Any]]:
    text = file.read_text(encoding="utf-8")
    if file.suffix.lower() == ".jsonl" or (text.lstrip().startswith("{") and "\n{" in text.strip()):
        try:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError:
            pass  # one JSON document that happens to hold a line starting with {
    doc = json.loads(text)
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict) and "columns" in doc and "data" in doc:  # orient=split
        return [dict(zip(doc["columns"], row, strict=True)) for row in doc["data"]]
    if isinstance(doc, dict) and all(isinstance(v, dict) for v in doc.values()):  # orient=index: filename -> row
        return [{"filename": k, **v} for k, v in doc.items()]
    raise UsageError(f"{file}: JSON predictions must be a list of records, timm's split orient or its index orient")


def records(t: pa.Table, file: Path, key_column: str | None, output_type: str) -> Records:
    """The table's records; UsageError names what is missing."""
    names = t.column_names
    key = key_column or next((c for c in KEY_COLUMNS if c in names), None)
    if key is None or key not in names:
        raise UsageError(f"{file}: no image column: expected one of {', '.join(KEY_COLUMNS)} "
                         f"(found {', '.join(names[:12])})")
    out_name = next((c for c in OUTPUT_COLUMNS if c in names or f"{c}_0" in names), None)
    if out_name is None:
        raise UsageError(f"{file}: no output column: expected prob, probs, logit or logits (timm's `prob`/`logit`)")
    kind = OUTPUT_COLUMNS[out_name] if output_type == "auto" else output_type
    outputs = _column(t, out_name, float, file) or []  # found above: never None
    return Records(key, [str(k) for k in t.column(key).to_pylist()], outputs, kind, _column(t, "index", int, file),
                   _column(t, "label", str, file))


def _column(t: pa.Table, name: str, kind: type, file: Path) -> list[Any] | None:
    """A list column, a scalar column (top-1) or separate `name_0`, `name_1`, ... columns, as lists."""
    if name in t.column_names:
        return [_cell(v, kind, _Where(file, n, name)) for n, v in enumerate(t.column(name).to_pylist(), start=1)]
    parts = sorted((int(c[len(name) + 1:]), c) for c in t.column_names if re.fullmatch(rf"{name}_\d+", c))
    if not parts:
        return None
    cols = [t.column(c).to_pylist() for _, c in parts]
    return [[_value(v, kind, _Where(file, n, c)) for v, (_, c) in zip(row, parts, strict=True)]
            for n, row in enumerate(zip(*cols, strict=True), start=1)]


@dataclass(frozen=True)
class _Where:
    file: Path
    row: int
    column: str

    def error(self, why: str) -> UsageError:
        return UsageError(f"{self.file}: row {self.row}, column {self.column}: {why}")


def _cell(v: Any, kind: type, where: _Where) -> list[Any]:
    """One cell as a list, parsed strictly: a list, a scalar (a top-1 output), or the text pandas
    writes for a numpy array (`[0.91 0.05]`, `['cat' 'dog']`) or a list (`[0.91, 0.05]`). Text
    that is anything else (`[0.5 abc 0.3]`, a formula `=1+2`) is refused, never scanned for numbers."""
    if v is None:
        return []
    if isinstance(v, list | tuple):
        return [_value(x, kind, where) for x in v]
    if isinstance(v, str) and kind is str:
        quoted = [a or b for a, b in _QUOTED.findall(v)]
        return quoted if v.strip().startswith("[") else [v]
    if isinstance(v, str):
        text = v.strip()
        inner = text[1:-1] if text.startswith("[") and text.endswith("]") else text
        return [_value(x, kind, where) for x in re.split(r"[\s,]+", inner.strip()) if x]
    return [_value(v, kind, where)]


def _value(x: Any, kind: type, where: _Where) -> Any:
    """One output (float) or class index (int); a null inside a list: NaN (an output) or -1 (a class
    index), which the checks that follow refuse with the row."""
    if x is None:
        return {float: float("nan"), int: -1}.get(kind, "")
    if kind is str:
        return str(x)
    if isinstance(x, bool) or not isinstance(x, int | float | str):
        raise where.error(f"{type(x).__name__} {ascii(x)[:40]} is not a number")
    if isinstance(x, str) and not _NUMBER.fullmatch(x.strip()):
        raise where.error(f"{ascii(x)[:40]} is not a number")
    number = float(x)
    if kind is float:
        return number
    if not math.isfinite(number) or number != int(number):
        raise where.error(f"class index {x!r} is not a whole number")
    return int(number)
