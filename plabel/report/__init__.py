"""`plabel report`: one self-contained HTML file (styles, SVG plots and thumbnails inline).

Sections: the rounds at a glance, then per round the confidence histograms, the selection
funnel and class balance, sample grids of pseudo labels per class and the duplicate groups, the
drift between the last two rounds, and the lineage. Classes beyond MAX_CLASSES and table rows
beyond MAX_TABLE_ROWS are left out with a note, so the file stays small whatever the number of
classes or images.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from plabel import storage
from plabel.dedup.rows import RULES
from plabel.errors import UnknownRound
from plabel.queries import query
from plabel.report import content as D
from plabel.report import plots
from plabel.workspace import Workspace

SIZE_PLACEHOLDER = "@@SIZE@@"


@dataclass(kw_only=True)
class ReportResult:
    path: str
    bytes: int
    rounds: list[int]
    sections: list[str]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0



def _table(columns: list[str], rows: list[list[Any]], table_id: str | None = None,
           limit: int = D.MAX_TABLE_ROWS) -> str:
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    body = []
    for row in rows[:limit]:
        body.append("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>")
    note = f'<div class="note">{limit} of {len(rows)} rows shown</div>' if len(rows) > limit else ""
    ident = f' id="{table_id}"' if table_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}"


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return escape(str(v))


def _plot(plot_id: str, svg: str) -> str:
    return f'<div class="plot" id="{plot_id}">{svg}</div>'


def _thumbs(items: list[Any], label: Callable[[Any], str]) -> str:
    cells = []
    for t in items:
        img = f'<img alt="{escape(t.image_id[:8])}" src="{t.data_uri}">' if t.data_uri else "<i>missing</i>"
        truth = f"<br>true: {escape(t.true_label)}" if t.true_label is not None else ""
        cells.append(f'<div class="thumb{" wrong" if t.wrong else ""}">{img}<span>{label(t)}{truth}</span></div>')
    return "".join(cells)


def _member(m: dict[str, Any]) -> str:
    img = f'<img alt="{escape(m["image_id"][:8])}" src="{m["thumb"]}">' if m["thumb"] else "<i>missing</i>"
    leak = " wrong" if m["role"] in ("test", "val") else ""
    return f'<div class="thumb{leak}">{img}<span>{escape(m["role"])} {m["similarity"]:.3f}</span></div>'


class _Report:
    def __init__(self, ws: Workspace, only_round: int | None):
        self.ws, self.only_round = ws, only_round
        self.notes: list[str] = []
        self.sections: list[str] = []
        self.names = dict(ws.rows(query("workspace/classes")))
        self.pred_rounds = [r for (r,) in ws.rows(query("report/prediction_rounds"))]
        if only_round is not None and only_round not in self.pred_rounds:
            raise UnknownRound(f"round {only_round} has no predictions (rounds: {self.pred_rounds or 'none'})")

    def section(self, ident: str, title: str, body: str) -> str:
        self.sections.append(ident)
        return f'<section id="{ident}"><h2>{escape(title)}</h2>{body}</section>'

    def overview(self) -> str:
        rows, robust = D.rounds_overview(self.ws)
        keys = sorted({k for v in robust.values() for k in v})
        table_rows = []
        for r in rows:
            extra = [robust.get(r.teacher_id or "", {}).get(k) for k in keys]
            table_rows.append([r.round, (r.teacher_id or "-")[:10], r.teacher_test_top1, r.teacher_val_top1,
                               r.teacher_holdout_top1, r.n_pseudo, r.pool_used, r.expected_precision,
                               r.true_precision, (r.student_id or "-")[:10], r.student_test_top1,
                               r.flip_rate_to_next, *extra])
        columns = ["round", "teacher", "teacher test top-1", "teacher val top-1", "teacher held-out top-1",
                   "pseudo labels", "share of the pool", "expected precision", "true precision", "student",
                   "student test top-1", "flip rate to next", *[f"teacher {k}" for k in keys]]
        body = _table(columns, table_rows, "rounds-table") + self.loop_outcome()
        if rows:
            accuracy = {"test top-1": [r.teacher_test_top1 for r in rows],
                        "val top-1": [r.teacher_val_top1 for r in rows]}
            body += _plot("plot-accuracy", plots.accuracy_by_round([r.round for r in rows], accuracy))
        if keys:
            body += (
                "<p>Robustness columns are the latest measurements of each round's teacher (<code>plabel "
                "eval --robustness</code>): mCE and mFR relative to the reference checkpoint (100 = as robust "
                "as it), accuracy under attack in %.</p>"
            )
        return self.section("overview", "Rounds at a glance", body)

    def loop_outcome(self) -> str:
        """What the latest `plabel run` chose and why it stopped (the `loops` table), if one finished."""
        found = self.ws.rows(query("report/last_loop"))
        if not found:
            return ""
        _, asked, ran, students, judge, best_round, best_id, best_top1, stopped, notes = found[0]
        best = (f"the best model on {escape(judge)}: round {best_round} ({escape(str(best_id)[:10])}), "
                f"{_cell(best_top1)}%" if judge else "no held-out split, so the last student is the result")
        lines = [f"The last <code>plabel run</code> ran {ran} of {escape(asked)} rounds asked, students "
                 f"{escape(', '.join(map(str, students)))}; {best}. Stopped: {escape(stopped)}."]
        lines += [f"Note: {escape(str(n))}." for n in notes]
        return '<div id="loop-outcome">' + "".join(f"<p>{line}</p>" for line in lines) + "</div>"

    def calibration(self) -> str:
        """Each checkpoint's temperature, its calibration error before and after, a reliability diagram."""
        rows = self.ws.rows(query("report/calibrations"))
        if not rows:
            return ""
        table = _table(
            ["checkpoint", "split", "images", "temperature", "ECE before", "ECE after", "NLL before", "NLL after"],
            [[str(c)[:10], split, n, t, eb, ea, nb, na] for c, split, n, t, eb, ea, nb, na, *_ in rows],
            "calibrations-table")
        diagrams = "".join(
            _plot(f"plot-reliability-{k}", plots.reliability((cb, ab), (ca, aa), f"{str(c)[:10]} on {split}"))
            for k, (c, split, *_, cb, ab, ca, aa) in enumerate(rows[-D.MAX_DIAGRAMS:]))
        body = ("<p>Temperature scaling fitted on labeled held-out images (<code>plabel calibrate</code>); "
                "<code>infer --temperature auto</code> uses it. Points on the diagonal are calibrated.</p>"
                f"{table}<div class='row'>{diagrams}</div>")
        return self.section("calibration", "Calibration", body)

    def round_section(self, r: int) -> str:
        sel = self.ws.rows(query("report/selection"), {"round": r})
        threshold = float(sel[0][0]) if sel and sel[0][0] is not None else None
        if sel:
            t, n, balance, labels, n_lab, n_pseudo, copies, target, *statement = sel[0]
            rule = f"threshold {t:.2f}" if t is not None else f"per-class thresholds for precision {target:g} on val"
            body = (
                f"<p>Selection: {rule}, balance <code>{escape(balance)}</code>, N = {n}, "
                f"{escape(labels)} labels: {n_pseudo} pseudo-labeled images ({copies} draws per pass) and "
                f"{n_lab} labeled.</p>" + _statement(statement, target)
            )
        else:
            body = '<div class="note">No selection for this round yet.</div>'
        top = self.ws.rows(query("report/top_classes"), {"round": r, "limit": D.MAX_CLASSES})
        if len(self.names) > D.MAX_CLASSES:
            self.notes.append(
                f"round {r}: per-class plots and samples show {D.MAX_CLASSES} of {len(self.names)} classes"
            )
            body += (
                f'<div class="note">{len(self.names)} classes: per-class plots and samples show the '
                f"{D.MAX_CLASSES} with the most selected pseudo labels.</div>"
            )
        body += self.confidence(r, top, threshold)
        funnel = self.ws.rows(query("report/funnel"), {"round": r})
        if funnel:
            body += self.funnel(r, funnel, {c for c, _, _, _ in top})
            limits = {row[0]: threshold if row[8] is None else float(row[8]) for row in funnel}
            body += self.samples(r, [(c, name) for c, name, _, _ in top], limits)
        body += self.duplicates(r)
        return self.section(f"round-{r}", f"Round {r}", body)

    def confidence(self, r: int, top: list[tuple[Any, ...]], threshold: float | None) -> str:
        edges, overall, per_class = D.histograms(self.ws, r, self.names)
        # in class order (the classes shown are the most selected, but a reader looks them up by name)
        shown = {name: per_class.get(c, np.zeros(len(edges))) for c, name, _, _ in sorted(top)}
        return (
            "<h3>Confidence</h3><div class='row'>"
            + _plot(f"plot-confidence-{r}", plots.histogram(edges, overall, threshold, f"round {r}, all classes"))
            + _plot(f"plot-confidence-classes-{r}", plots.small_multiples(edges, shown, threshold))
            + "</div>"
        )

    def funnel(self, r: int, funnel: list[tuple[Any, ...]], shown: set[int]) -> str:
        f = [row for row in funnel if row[0] in shown]
        names = [x[1] for x in f]
        stages = {"predicted": 2, "above threshold": 3, "after dedup": 4, "selected": 5}
        balance = {"candidates (after dedup)": [x[4] for x in f], "draws per pass (copies)": [x[6] for x in f]}
        columns = ["class", "predicted", "above threshold", "after dedup", "selected", "copies", "cutoff",
                   "threshold", "threshold from", "val precision", "val lower bound", "expected precision",
                   "shift p"]
        return (
            "<h3>Selection funnel per class</h3>"
            + _plot(f"plot-funnel-{r}",
                    plots.grouped_bars(names, {k: [x[i] for x in f] for k, i in stages.items()}, "images"))
            + "<h3>Class balance before and after selection</h3>"
            + _plot(f"plot-balance-{r}", plots.grouped_bars(names, balance, "images"))
            + _table(columns, [list(x[1:]) for x in funnel], f"funnel-table-{r}")
        )

    def samples(self, r: int, classes: list[tuple[int, str]], thresholds: dict[int, float | None]) -> str:
        blocks = []
        for cs in D.samples(self.ws, r, classes, thresholds):
            parts = []
            for bucket, title in (
                ("high", "most confident"),
                ("medium", "medium"),
                ("threshold", "at the cutoff"),
                ("rejected", "rejected, below threshold"),
            ):
                items = cs.buckets[bucket]
                if items:
                    parts.append(
                        f'<div class="bucket"><b>{title}</b><div class="grid">'
                        f"{_thumbs(items, lambda t: f'{t.confidence:.2f}')}</div></div>"
                    )
            if parts:
                blocks.append(
                    f'<div class="classblock" data-class="{escape(cs.name)}"><h3>{escape(cs.name)}</h3>'
                    f'<div class="row">{"".join(parts)}</div></div>'
                )
        body = "".join(blocks) or '<div class="note">No pseudo labels selected.</div>'
        return (
            f'<div id="samples-{r}"><h3>Samples of the pseudo labels</h3><p>Confidence under each thumbnail; '
            f"where the unlabeled image carries a withheld true label it is shown, in red when the pseudo "
            f"label is wrong.</p>"
            f"{body}</div>"
        )

    def dedup_decisions(self, r: int) -> str:
        """The thresholds dedup chose and what each rule removed, per class."""
        limits = self.ws.rows(query("report/dedup_thresholds"), {"round": r})
        if not limits:
            return ""
        body = "<h3>Dedup thresholds</h3>" + _table(
            ["signal", "scope", "threshold", "source", "recall on synthetic copies", "est. false positives", "note"],
            [[a, b, f"{t:.4f}", src, f"{rec:.3f}", f"{fpr:.4f}", note] for a, b, t, src, rec, fpr, note in limits],
            f"dedup-thresholds-{r}", 10)
        grid: dict[str, Any] = {}
        for cls, rule, n in self.ws.rows(query("report/dedup_funnel"), {"round": r}):
            grid.setdefault(self.names[cls], [0] * len(RULES))[rule] = n
        body += "<h3>Excluded by each rule</h3>" + _table(
            ["class", *RULES], [[c, *v] for c, v in sorted(grid.items())], f"dedup-funnel-{r}", 1000)
        return body

    def duplicates(self, r: int) -> str:
        groups = D.duplicate_groups(self.ws, r)
        if not groups:
            return (f'<div id="duplicates-{r}">{self.dedup_decisions(r)}<h3>Duplicates</h3>'
                    f"<p>No near-duplicate groups in this round.</p></div>")
        items = []
        for g in groups:
            thumbs = "".join(_member(m) for m in g["members"])
            more = g["size"] - len(g["members"]) + (1 if g["scope"] != "unlabeled" else 0)
            more_note = f'<span class="more">+{more} more</span>' if more > 0 else ""
            items.append(
                f'<div class="group" title="{escape(g["scope"])} group of {g["size"]}">{thumbs}{more_note}</div>'
            )
        return (
            f'<div id="duplicates-{r}">{self.dedup_decisions(r)}<h3>Duplicates</h3><p>The largest '
            f"near-duplicate groups, side by side: the "
            f"kept representative first; val/test look-alikes (never trained on) in red.</p><div "
            f"class='row'>{''.join(items)}</div></div>"
        )

    def drift(self) -> str:
        if len(self.pred_rounds) < 2:
            return self.section("drift", "Drift", "<p>Drift needs two rounds of predictions.</p>")
        b = self.only_round if self.only_round and self.only_round in self.pred_rounds[1:] else self.pred_rounds[-1]
        a = self.pred_rounds[self.pred_rounds.index(b) - 1]
        pair = {"round_a": a, "round_b": b}
        rows = [(ca, cb, n) for ca, cb, _, _, n in self.ws.rows(query("drift/transitions"), pair)]
        body = f"<p>Round {a} to round {b}, unlabeled pool.</p>" + self.transitions(rows, a, b)
        moves = sorted(((n, ca, cb) for ca, cb, n in rows if ca != cb), reverse=True)
        body += "<h3>Largest transitions</h3>" + _table(
            ["from", "to", "images"],
            [[self.names[ca], self.names[cb], n] for n, ca, cb in moves],
            "transitions-table",
            15,
        )
        flips = dict(self.ws.rows(query("drift/flips"), {"round_a": a, "round_b": b}))
        negative = self.ws.rows(query("report/negative"), {"round_a": a, "round_b": b, "limit": 20})
        body += (
            f"<h3>Negative flips</h3><p>Val/test images right in round {a} and wrong in round {b}: "
            f"{flips.get('negative', 0)} (positive flips: {flips.get('positive', 0)}).</p>"
        )
        body += _table(
            ["image", "split", "true", f"round {a}", f"round {b}", f"confidence {a}", f"confidence {b}"],
            [[i[:12], s, t, self.names.get(la), self.names.get(lb), ca, cb] for i, s, t, la, lb, ca, cb in negative],
            "negative-flips-table",
        )
        return self.section("drift", f"Drift: round {a} to round {b}", body)

    def transitions(self, rows: list[tuple[Any, ...]], a: int, b: int) -> str:
        """The class transition matrix of the most predicted classes."""
        totals: dict[int, int] = {}
        for ca, _, n in rows:
            totals[ca] = totals.get(ca, 0) + n
        keep = sorted(sorted(totals, key=lambda c: (-totals[c], c))[: D.MAX_CLASSES])
        index = {c: i for i, c in enumerate(keep)}
        matrix = np.zeros((len(index), len(index)))
        for ca, cb, n in rows:
            if ca in index and cb in index:
                matrix[index[ca], index[cb]] = n
        note = ""
        if len(totals) > D.MAX_CLASSES:
            note = (f'<div class="note">The matrix shows the {D.MAX_CLASSES} most predicted of {len(totals)} '
                    "classes.</div>")
        heatmap = plots.heatmap(matrix, [self.names[c] for c in keep], f"class in round {b}", f"class in round {a}")
        return note + _plot("plot-transitions", heatmap)

    def lineage(self) -> str:
        rows, _ = D.rounds_overview(self.ws)
        body = _table(
            [
                "round",
                "teacher",
                "predictions",
                "selection",
                "threshold",
                "N",
                "balance",
                "labels",
                "manifest sha256",
                "labeled",
                "pseudo",
                "draws",
                "student",
            ],
            [
                [
                    r.round,
                    r.teacher_id,
                    r.predictions,
                    r.selection_id,
                    r.threshold,
                    r.per_class,
                    r.balance,
                    r.labels,
                    r.manifest_hash,
                    r.n_labeled,
                    r.n_pseudo,
                    r.n_pseudo_copies,
                    r.student_id,
                ]
                for r in rows
            ],
            "lineage-table",
        )
        return self.section("lineage", "Lineage", body)


def write_report(ws: Workspace, round: int | None = None, output: str | os.PathLike[str] | None = None) -> ReportResult:
    """Write the report (default: reports/report.html in the workspace) atomically."""
    started = time.perf_counter()
    rep = _Report(ws, round)
    rounds = [round] if round is not None else rep.pred_rounds
    parts = [rep.overview(), rep.calibration()]
    parts += [rep.round_section(r) for r in rounds]
    parts += [rep.drift(), rep.lineage()]
    nav = "".join(f'<a href="#{s}">{escape(s.replace("-", " "))}</a>' for s in rep.sections)
    css = resources.files("plabel.report").joinpath("style.css").read_text()
    notes = "".join(f'<div class="note">{escape(n)}</div> ' for n in rep.notes)
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    html = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>plabel report</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{css}</style></head><body>'
        f"<header><h1>plabel report</h1><p>{escape(str(ws.root))} &middot; {len(rep.names)} classes &middot; "
        f"rounds {', '.join(map(str, rounds)) or 'none'} &middot; generated {generated} &middot; "
        f"{SIZE_PLACEHOLDER}</p></header>"
        f"<nav>{nav}</nav><main>{notes}{''.join(parts)}</main></body></html>"
    )
    size = len(html.encode()) - len(SIZE_PLACEHOLDER)
    html = html.replace(SIZE_PLACEHOLDER, f"{size / 1e6:.2f} MB", 1)
    path = Path(os.path.abspath(output)) if output else ws.root / "reports" / "report.html"
    storage.write_text_atomic(path, html)
    return ReportResult(path=str(path), bytes=path.stat().st_size, rounds=rounds, sections=rep.sections,
                        notes=rep.notes, seconds=time.perf_counter() - started)


def _statement(row: list[Any], target: float | None) -> str:
    """The selection's stated precision, and whether its target held (docs/selection.md)."""
    expected, bound, delta, held, share_p = row
    if expected is None:
        return ""
    said = (f"<p>Expected precision of the pseudo rows on val evidence: {expected:.3f}, at least {bound:.3f} "
            f"with confidence {1 - delta:g}.")
    verdict = ""
    if held == "held":
        verdict = f" Target {target:g} held."
    elif held == "below":
        verdict = f" <strong>Below the target {target:g}.</strong>"
    elif held == "shifted":
        verdict = (" <strong>Not guaranteed: the pool's confidences differ from val's for some classes "
                   "(shift p below delta in the funnel table).</strong>")
    share = (" The pool's predicted class shares differ from val's beyond chance."
             if share_p is not None and share_p < delta else "")
    return said + verdict + share + "</p>"
