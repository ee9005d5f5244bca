"""Plots as inline SVG (matplotlib, text kept as text): no script, no network to view them."""
from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.figure import Figure

plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
                     "svg.hashsalt": "plabel",  # a fixed salt: the same data gives the same SVG
                     "text.parse_math": False})  # class names are text: `$x^$` is no formula to parse


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def accuracy_by_round(rounds: list[int], series: dict[str, list[float | None]]) -> str:
    fig, ax = plt.subplots(figsize=(5.2, 2.6))
    drawn = 0
    for name, values in series.items():
        xs = [r for r, v in zip(rounds, values, strict=True) if v is not None]
        ys = [v for v in values if v is not None]
        if ys:
            ax.plot(xs, ys, marker="o", label=name)
            drawn += 1
    ax.set_xlabel("round")
    ax.set_ylabel("top-1 %")
    ax.set_xticks(rounds)
    if drawn:
        ax.legend(frameon=False)
    else:
        ax.text(0.5, 0.5, "no evaluations yet", ha="center", va="center", transform=ax.transAxes)
    return _svg(fig)


def histogram(bins: np.ndarray, counts: np.ndarray, threshold: float | None, title: str) -> str:
    fig, ax = plt.subplots(figsize=(5.2, 2.4))
    ax.bar(bins, counts, width=bins[1] - bins[0] if len(bins) > 1 else 0.05, align="edge", color="#4a6fd1")
    if threshold is not None:
        ax.axvline(threshold, color="#d33", linestyle="--", linewidth=1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("images")
    ax.set_title(title)
    return _svg(fig)


def small_multiples(edges: np.ndarray, per_class: dict[str, np.ndarray], threshold: float | None) -> str:
    n = len(per_class)
    cols = min(6, max(n, 1))
    rows = int(np.ceil(n / cols)) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(1.7 * cols, 1.25 * rows), sharex=True, squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    width = edges[1] - edges[0] if len(edges) > 1 else 0.05
    # the grid may hold more axes than classes (the rest stay hidden)
    for ax, (name, counts) in zip(axes.flat, per_class.items(), strict=False):
        ax.set_visible(True)
        ax.bar(edges, counts, width=width, align="edge", color="#4a6fd1")
        if threshold is not None:
            ax.axvline(threshold, color="#d33", linestyle="--", linewidth=0.8)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    return _svg(fig)


def grouped_bars(labels: list[str], series: dict[str, list[float]], ylabel: str) -> str:
    n = len(labels)
    fig, ax = plt.subplots(figsize=(min(14, 1.2 + 0.45 * n * max(len(series), 1) / 2), 2.8))
    x = np.arange(n)
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        ax.bar(x + i * width, values, width, label=name)
    ax.set_xticks(x + width * (len(series) - 1) / 2, labels, rotation=90 if n > 12 else 0, fontsize=7)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize=7, ncol=min(len(series), 5))
    return _svg(fig)


def heatmap(matrix: np.ndarray, labels: list[str], xlabel: str, ylabel: str) -> str:
    n = len(labels)
    size = min(9, 1.5 + 0.28 * n)
    fig, ax = plt.subplots(figsize=(size, size))
    shown = np.log1p(matrix)
    ax.imshow(shown, cmap="Blues")
    ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(n), labels, fontsize=7)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if n <= 15:
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=6,
                            color="white" if shown[i, j] > shown.max() * 0.6 else "black")
    return _svg(fig)


def reliability(before: tuple[list[Any], list[Any]], after: tuple[list[Any], list[Any]], title: str) -> str:
    """Accuracy against confidence per bin, before and after temperature scaling; the diagonal is
    perfect calibration."""
    fig, ax = plt.subplots(figsize=(2.8, 2.6))
    ax.plot([0, 1], [0, 1], color="#999", linewidth=0.8, linestyle=":")
    for (conf, acc), name, marker in ((before, "before", "o"), (after, "after", "s")):
        x, y = np.asarray(conf or [], float), np.asarray(acc or [], float)  # a null bin is a gap
        if len(x) == len(y):
            ax.plot(x, y, marker=marker, markersize=3, linewidth=1, label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:  # a crafted row may have no bins that pair up
        ax.legend(frameon=False)
    return _svg(fig)
