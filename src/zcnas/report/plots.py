"""Figures for the report: one scatter panel per proxy, proxy rank against accuracy.

Figures are built on ``matplotlib.figure.Figure`` with an Agg canvas attached directly, so plotting never
touches pyplot or the global backend.

Example:
    >>> import numpy as np, pandas as pd
    >>> idx = [f"a{i}" for i in range(30)]
    >>> t = pd.Series(np.arange(30.0), index=idx)
    >>> fig = scatter_figure(pd.DataFrame({"synflow": t * 2, "snip": -t}, index=idx), t)
    >>> len(fig.axes)
    2
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from zcnas.atomic import atomic_open
from zcnas.evaluation.rank import align_by_index, select_proxy_columns, spearman

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["scatter_figure", "scatter_grid"]


def scatter_figure(
    scores: pd.DataFrame,
    targets: pd.Series,
    proxies: Sequence[str] | None = None,
    title: str | None = None,
    ncols: int = 3,
) -> Figure:
    """Build the scatter grid as a Figure: one panel per proxy, x = proxy rank percentile, y = accuracy.

    ``scores`` and ``targets`` are aligned by index (architecture string). In each panel the architectures
    whose score or target is not finite are dropped; x is the score's average rank divided by the number of
    points kept, times 100 (so the best-scored architecture sits at 100). The panel title gives the proxy name,
    the signed Spearman rho, and the number of points shown (and dropped, if any).

    Args:
        scores: one numeric column per proxy, indexed by architecture string.
        targets: accuracies indexed by architecture string; its name labels the y axis.
        proxies: columns to plot; default every numeric column, in order.
        title: optional figure title.
        ncols: panels per row (at most the number of proxies).

    Returns:
        A ``matplotlib.figure.Figure`` with an Agg canvas and exactly one Axes per proxy.

    Example:
        >>> idx = ["a", "b", "c", "d"]
        >>> t = pd.Series([1.0, 2.0, 3.0, 4.0], index=idx)
        >>> fig = scatter_figure(pd.DataFrame({"synflow": [1.0, 2.0, 3.0, 4.0]}, index=idx), t, title="C10")
        >>> fig.axes[0].get_title()
        'synflow  ρ = +1.000  (n=4)'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    scores, targets = align_by_index(scores, targets)
    proxies = select_proxy_columns(scores, proxies)
    if not proxies:
        raise ValueError("There is no proxy column to plot; pass proxies=[...] or a table with numeric columns.")
    if int(ncols) < 1:
        raise ValueError(f"ncols must be a positive number of panels; got {ncols!r}.")

    ncols = min(int(ncols), len(proxies))
    nrows = math.ceil(len(proxies) / ncols)
    fig = Figure(figsize=(4.0 * ncols, 3.4 * nrows + (0.4 if title else 0.0)), layout="constrained")
    FigureCanvasAgg(fig)
    t_all = targets.to_numpy(dtype=float, na_value=np.nan)
    y_label = str(targets.name) if targets.name is not None else "accuracy"
    for i, name in enumerate(proxies):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        s_all = scores[name].to_numpy(dtype=float, na_value=np.nan)
        keep = np.isfinite(s_all) & np.isfinite(t_all)
        n, dropped = int(keep.sum()), int(keep.size - keep.sum())
        rho = spearman(s_all, t_all).value
        counts = f"n={n}" + (f", {dropped} dropped" if dropped else "")
        rho_text = "nan" if math.isnan(rho) else f"{rho:+.3f}"
        ax.set_title(f"{name}  ρ = {rho_text}  ({counts})", fontsize=10)
        if n:
            x = stats.rankdata(s_all[keep], method="average") / n * 100.0
            ax.scatter(x, t_all[keep], s=4 if n > 2000 else 10, alpha=0.35 if n > 2000 else 0.7,
                       linewidths=0, rasterized=n > 2000)
        else:
            ax.text(0.5, 0.5, "no finite scores", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlim(0, 100)
        ax.set_xlabel(f"{name} rank (percentile)")
        ax.set_ylabel(y_label)
        ax.grid(True, alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig


def scatter_grid(
    scores: pd.DataFrame,
    targets: pd.Series,
    path: str | os.PathLike[str],
    proxies: Sequence[str] | None = None,
    title: str | None = None,
    dpi: int = 100,
) -> Path:
    """Write the scatter grid of ``scatter_figure`` as a PNG, atomically (temporary name, then rename).

    Args:
        scores: one numeric column per proxy, indexed by architecture string.
        targets: accuracies indexed by architecture string.
        path: where the PNG goes; the folder is created when missing.
        proxies: columns to plot; default every numeric column.
        title: optional figure title.
        dpi: resolution of the PNG.

    Returns:
        The path of the PNG written.

    Example:
        >>> import tempfile
        >>> idx = ["a", "b", "c", "d"]
        >>> t = pd.Series([1.0, 2.0, 3.0, 4.0], index=idx)
        >>> out = scatter_grid(pd.DataFrame({"snip": [4.0, 1.0, 3.0, 2.0]}, index=idx), t,
        ...                    Path(tempfile.mkdtemp()) / "scatter.png")
        >>> out.read_bytes()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
        True
    """
    fig = scatter_figure(scores, targets, proxies=proxies, title=title)
    target = Path(path)
    with atomic_open(target, "wb") as fh:
        fig.savefig(fh, format="png", dpi=dpi)
    return target
