"""drift and rounds: how labels moved between rounds, and each round's lineage."""
from __future__ import annotations

import csv
import sys
from typing import Annotated, Any

from plabel.cli import _options as opt
from plabel.cli._fields import with_fields
from plabel.cli._output import emit_json, emitted, info, print_table
from plabel.cli.app import command
from plabel.drift import DriftOptions, RoundRow
from plabel.drift import rounds as round_rows  # DuckDB only: `plabel --help` stays instant
from plabel.values import as_dict

MATRIX_LIMIT = 20


@command()
@with_fields(DriftOptions)
def drift(
    fields: dict[str, Any] | None = None,
    format: Annotated[str, opt.option("table, json, or csv (the class transitions).", "--format", "-f")] = "table",
    top: Annotated[int, opt.option("Largest transitions shown.", min=1)] = 10,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
) -> None:
    """How predictions changed between two rounds: flips, transitions, churn."""
    from plabel.drift import drift as run
    from plabel.errors import UsageError

    if format not in ("table", "json", "csv"):
        raise UsageError("--format must be table, json or csv")
    r = run(opt.open_ws(workspace), DriftOptions(**(fields or {})))
    if json_output or format == "json":
        emit_json(as_dict(r))
        return
    if format == "csv":
        w = csv.writer(sys.stdout)
        w.writerow(["round_a", "round_b", "class_a", "class_b", "name_a", "name_b", "images"])
        for t in r.transitions:
            w.writerow([r.round_a, r.round_b, t["class_a"], t["class_b"], t["name_a"], t["name_b"], t["images"]])
        return
    rows = [
        ["images compared", r.images],
        ["flip rate", round(r.flip_rate, 4)],
        ["mean confidence change", round(r.mean_confidence_change, 4)],
        ["negative flips (val/test)", r.negative_flips],
        ["positive flips (val/test)", r.positive_flips],
    ]
    if r.summary:
        s = r.summary
        rows += [
            ["JS divergence of class distributions", round(s["js_divergence"], 5)],
            [
                f"share >= {_threshold(s['threshold'])} (round {r.round_a} -> {r.round_b})",
                f"{s['above_threshold_a']:.3f} -> {s['above_threshold_b']:.3f}",
            ],
        ]
        if s["selection_entered"] is not None:
            rows.append(
                [
                    "selection churn: entered / left / kept",
                    f"{s['selection_entered']} / {s['selection_left']} / {s['selection_kept']}",
                ]
            )
    print_table(f"Drift, round {r.round_a} -> {r.round_b}", ["measure", "value"], rows)
    largest = r.largest_transitions[:top]
    if largest:
        print_table(
            "Largest transitions", ["from", "to", "images"], [[t["name_a"], t["name_b"], t["images"]] for t in largest]
        )
    n = len(r.classes)
    shown = min(n, MATRIX_LIMIT)
    m = r.matrix()
    caption = f"first {shown} of {n} classes shown (--format csv has them all)" if n > shown else None
    print_table(
        f"Class transitions (rows: round {r.round_a}, columns: round {r.round_b})",
        [""] + r.classes[:shown],
        [[r.classes[i]] + m[i][:shown] for i in range(shown)],
        caption=caption,
    )


@command()
def rounds(workspace: opt.Workspace = None, json_output: opt.Json = False) -> None:
    """One line per round: teacher -> predictions -> selection -> manifest -> student, with metrics."""
    rows = round_rows(opt.open_ws(workspace))
    if emitted(rows, json_output):
        return
    if not rows:
        info("No rounds yet: train a teacher with `plabel train --round 0`.")
        return

    def short(x: str | None) -> str:
        return x[:8] if x else "-"

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.1f}"

    print_table(
        "Rounds",
        [
            "round",
            "teacher",
            "predictions",
            "selection",
            "manifest",
            "pseudo (copies)",
            "student",
            "teacher test",
            "student test",
            "teacher mCE",
            "flip rate",
        ],
        [
            [
                r.round,
                short(r.teacher_id),
                r.predictions,
                _rule(r),
                short(r.manifest_hash),
                f"{r.n_pseudo} ({r.n_pseudo_copies})" if r.n_pseudo is not None else "-",
                short(r.student_id),
                pct(r.teacher_test_top1),
                pct(r.student_test_top1),
                pct(r.teacher_mce),
                "-" if r.flip_rate_to_next is None else f"{r.flip_rate_to_next:.3f}",
            ]
            for r in rows
        ],
    )


def _threshold(t: float | None) -> str:
    """A selection's threshold, or what --threshold auto chose instead of one."""
    return f"threshold {t:.2f}" if t is not None else "per-class thresholds (auto)"


def _rule(r: RoundRow) -> str:
    if not r.balance:
        return "-"
    return f"{r.balance} >= {r.threshold:.2f}" if r.threshold is not None else f"{r.balance}, auto"
