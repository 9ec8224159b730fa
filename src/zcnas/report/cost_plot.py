"""Spearman against seconds per cell: one labelled point per proxy or ensemble, seconds on a log axis.

The caller builds the table (this module opens no store): one row per proxy or ensemble with its Spearman and
its median seconds per cell; a ``kind`` column ("proxy", "ensemble", "paper", ...) picks the marker.

Example:
    >>> import tempfile, pandas as pd
    >>> from pathlib import Path
    >>> points = pd.DataFrame({"spearman": [0.76, 0.91], "seconds": [0.08, 2.5], "kind": ["paper", "ensemble"]},
    ...                       index=pd.Index(["synflow", "zc_ensemble"], name="proxy"))
    >>> out = write_cost_plot(points, Path(tempfile.mkdtemp()) / "cost.png")
    >>> out.read_bytes()[:4] == b"\\x89PNG"
    True
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from zcnas.atomic import atomic_open

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["cost_plot_figure", "write_cost_plot"]

_MARKERS = {"paper": ("s", "tab:gray"), "proxy": ("o", "tab:blue"), "ensemble": ("*", "tab:red")}


def cost_plot_figure(points: pd.DataFrame, *, x: str = "seconds", y: str = "spearman", title: str | None = None,
                     y_label: str | None = None) -> Figure:
    """The figure: ``points[y]`` against ``points[x]`` (log), each point labelled with its index.

    Rows whose ``x`` is not a positive finite number or whose ``y`` is not finite are left out (a note in the
    corner says how many).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    missing = [c for c in (x, y) if c not in points.columns]
    if missing:
        raise ValueError(f"the cost-plot table lacks the column(s) {missing}; columns: {list(points.columns)}")
    xs = pd.to_numeric(points[x], errors="coerce")
    ys = pd.to_numeric(points[y], errors="coerce")
    usable = xs.gt(0) & xs.map(math.isfinite) & ys.map(math.isfinite)
    kinds = points["kind"] if "kind" in points.columns else pd.Series("proxy", index=points.index)
    fig = Figure(figsize=(7.5, 5.0))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for kind in dict.fromkeys(kinds[usable]):
        rows = usable & (kinds == kind)
        marker, colour = _MARKERS.get(str(kind), ("D", "tab:green"))
        ax.scatter(xs[rows], ys[rows], marker=marker, color=colour, s=90 if marker == "*" else 36,
                   label=str(kind), zorder=3)
    for label in points.index[usable]:
        ax.annotate(str(label), (xs[label], ys[label]), textcoords="offset points", xytext=(4, 3), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel(f"{x} per cell (log scale)")
    ax.set_ylabel(y_label or f"{y} with the target")
    ax.grid(True, which="both", alpha=0.3)
    if int(usable.sum()):
        ax.legend(loc="lower right", fontsize=8)
    dropped = int((~usable).sum())
    if dropped:
        ax.text(0.01, 0.01, f"{dropped} row(s) without a usable value left out", transform=ax.transAxes,
                fontsize=7, va="bottom")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def write_cost_plot(points: pd.DataFrame, path: str | os.PathLike[str], *, x: str = "seconds",
                    y: str = "spearman", title: str | None = None, dpi: int = 110) -> Path:
    """Write ``cost_plot_figure`` as a PNG, atomically (temporary name, then rename); returns the path."""
    fig = cost_plot_figure(points, x=x, y=y, title=title)
    target = Path(path)
    with atomic_open(target, "wb") as fh:
        fig.savefig(fh, format="png", dpi=dpi)
    return target
