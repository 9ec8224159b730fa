"""The paper's search figure: mean and inter-quartile band of best_test against trained models, one panel per
algorithm, every variant of it in that panel; and the study's Markdown report.

The caller gives the trajectories table (``zcnas.search.study.run_search``) and its summary
(``zcnas.search.study.summarise``); this module opens no store and no benchmark.

Example:
    >>> import tempfile, pandas as pd
    >>> from pathlib import Path
    >>> t = pd.DataFrame({"algo": "random", "variant": "plain", "seed": [0, 0, 1, 1], "trained": [1, 2, 1, 2],
    ...                   "best_test": [70.0, 71.0, 70.5, 72.0]})
    >>> out = write_search_figure(t, Path(tempfile.mkdtemp()) / "search.png", "cifar100")
    >>> out.read_bytes()[:4] == b"\\x89PNG"
    True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from zcnas.atomic import atomic_open
from zcnas.report.markdown import markdown_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["search_figure", "search_markdown", "write_search_figure", "write_search_report"]


def search_figure(trajectories: pd.DataFrame, dataset: str, column: str = "best_test") -> Figure:
    """One panel per algo: per variant the mean of ``column`` over seeds and its 25-75% band."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    algos = sorted(trajectories["algo"].unique())
    fig = Figure(figsize=(4.2 * len(algos), 3.6), constrained_layout=True)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(algos), squeeze=False)[0]
    for ax, algo in zip(axes, algos):
        part = trajectories[trajectories["algo"] == algo]
        for variant, group in sorted(part.groupby("variant"), key=lambda kv: (kv[0] != "plain", kv[0])):
            stats = group.groupby("trained")[column]
            mean, lo, hi = stats.mean(), stats.quantile(0.25), stats.quantile(0.75)
            seeds = group["seed"].nunique()
            ax.plot(mean.index, mean.to_numpy(), label=f"{variant} ({seeds} seeds)", lw=1.4)
            ax.fill_between(mean.index, lo.to_numpy(), hi.to_numpy(), alpha=0.15)
        top = part[column].quantile(0.999)
        ax.set_ylim(top - 3.0, top + 0.3)
        ax.set_title(algo)
        ax.set_xlabel("trained models")
        ax.set_ylabel(f"{dataset} {column} (%)")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize=7)
    return fig


def write_search_figure(trajectories: pd.DataFrame, path: str | os.PathLike[str], dataset: str,
                        column: str = "best_test", dpi: int = 110) -> Path:
    """Write ``search_figure`` as a PNG atomically; returns its path."""
    fig = search_figure(trajectories, dataset, column)
    target = Path(path)
    with atomic_open(target, "wb") as fh:
        fig.savefig(fh, format="png", dpi=dpi)
    return target


def search_markdown(summary: pd.DataFrame, dataset: str, figure: str | None = None) -> str:
    """The summary table as Markdown, under a heading, with the figure linked when given."""
    lines = [f"# Search on {dataset}", ""]
    if figure:
        lines += [f"![search curves]({figure})", ""]
    lines += ["`at k`: mean best_test (test accuracy of the best-by-validation model among the first k trained), "
              "`reach L`: trained models until that mean reaches L %, `speedup@L`: plain's count / this one's.", "",
              markdown_table(summary, ".2f"), ""]
    return "\n".join(lines)


def write_search_report(trajectories: pd.DataFrame, summary: pd.DataFrame, folder: str | os.PathLike[str],
                        dataset: str) -> Path:
    """``search.png``, ``summary.csv`` and ``report.md`` in ``folder``; returns the report's path."""
    out = Path(folder)
    write_search_figure(trajectories, out / "search.png", dataset)
    with atomic_open(out / "summary.csv", "w") as fh:
        summary.to_csv(fh, index=False)
    report = out / "report.md"
    with atomic_open(report, "w") as fh:
        fh.write(search_markdown(summary, dataset, "search.png"))
    return report
