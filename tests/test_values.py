"""plabel.values: the one serializer of options and results."""
import json
import math

from plabel.drift import DriftReport
from plabel.ingest.options import IngestResult
from plabel.selection import ClassCount, SelectOptions
from plabel.values import as_dict, json_safe


def test_as_dict_holds_every_field_nested_dataclasses_and_derived_values():
    r = IngestResult(ingest_id="i", source="s", seen=10, skipped=2, seconds=4.0, reasons={"corrupt": 1})
    d = as_dict(r)
    assert d["files_per_s"] == 2.0 and d["reasons"] == {"corrupt": 1} and d["seen"] == 10
    c = ClassCount(3, "cat", 5, 4, 4, threshold=math.inf)
    assert as_dict(c)["name"] == "cat"
    assert json.loads(json.dumps(json_safe(as_dict(c))))["threshold"] is None  # JSON has no infinity
    drift = DriftReport(round_a=0, round_b=1, images=6, flip_rate=0.5, mean_confidence_change=0.1, summary=None,
                        transitions=[{"class_a": 0, "class_b": 1, "images": 3},
                                     {"class_a": 1, "class_b": 1, "images": 2}], classes=["a", "b"])
    d = as_dict(drift)
    assert d["matrix"] == [[0, 3], [0, 2]] and d["largest_transitions"] == [drift.transitions[0]]
    assert set(as_dict(SelectOptions(round=2))) >= {"round", "threshold", "balance"}
