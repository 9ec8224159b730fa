"""The paper's Figure 2: rank correlation with the final accuracy against evaluation cost, on a log axis.

Three kinds of entries, all from tables the caller loads (this module opens no store and no benchmark):

- curves: reduced training (one per preset), the Spearman of each epoch's validation accuracy with the target
  over the trained cells, at the mean cumulative training cost of that epoch (``epoch_correlations``);
- reference points: other accuracies with a known cost, e.g. NAS-Bench-201's own 12-epoch schedule
  (``series_points``);
- zero-cost proxies, each at its cost (1 minibatch; the vote of synflow, jacob_cov and snip at 3), from score
  tables (``proxy_points``).

Cost is in minibatch-equivalents (one forward and backward of the full-size network on 64 samples; see
``zcnas.training.cost``). Correlations are signed Spearman rho, cells with a non-finite value dropped.

Example:
    >>> import numpy as np, pandas as pd
    >>> cells = [f"c{i}" for i in range(6)]
    >>> rows = pd.DataFrame({"cell": cells * 2, "epoch": [1] * 6 + [2] * 6,
    ...                      "val_acc": [1, 2, 3, 4, 6, 5] + [1, 2, 3, 4, 5, 6], "cum_cost": [1.0] * 6 + [2.0] * 6})
    >>> targets = pd.DataFrame({"test": np.arange(6.0)}, index=cells)
    >>> epoch_correlations(rows, targets, "eco")[["epoch", "cost", "spearman_test"]].round(3).values.tolist()
    [[1.0, 1.0, 0.943], [2.0, 2.0, 1.0]]
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from zcnas.atomic import atomic_open
from zcnas.evaluation.rank import VOTE_PROXIES, rank_vote, spearman, spearman_spread, vote_agreement
from zcnas.report.markdown import markdown_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["cost_figure", "cost_markdown", "epoch_correlations", "proxy_points", "series_points", "write_cost_figure"]

#: The cost of one zero-cost proxy and of the three-proxy vote, in minibatch-equivalents (the paper's).
PROXY_COST = 1.0
VOTE_COST = 3.0
POINT_COLUMNS = ["label", "kind", "cost", "spearman", "spearman_sd", "n"]


def _rho(scores: pd.Series, targets: pd.Series, spread: bool) -> tuple[float, float, int]:
    result = spearman(scores.to_numpy(float), targets.to_numpy(float))
    sd = spearman_spread(scores.to_numpy(float), targets.to_numpy(float), result.n) if spread and result.n >= 3 \
        else math.nan
    return result.value, sd, result.n


def epoch_correlations(rows: pd.DataFrame, targets: pd.DataFrame, preset: str, *,
                       spread: bool = False) -> pd.DataFrame:
    """Spearman of each epoch's ``val_acc`` with every target column, over the cells present in both.

    Args:
        rows: the per-cell-and-epoch table (``cell``, ``epoch``, ``val_acc``, ``cum_cost``; ``seconds`` and
            ``eval_seconds`` when present give the mean cumulative wall-clock per cell).
        targets: one column per target (e.g. ``cifar10_test_200ep``), indexed by cell.
        preset: the curve's label.
        spread: add ``spearman_sd_<first target>``, the bootstrap SD of rho at that number of cells.

    Returns:
        One row per epoch: ``preset, epoch, cost, n, spearman_<target>...`` (+ ``seconds``, the SD).
    """
    missing = {"cell", "epoch", "val_acc", "cum_cost"} - set(rows.columns)
    if missing:
        raise ValueError(f"the training table lacks the column(s) {sorted(missing)}")
    if targets.shape[1] == 0:
        raise ValueError("targets has no column; give at least one target accuracy")
    out = []
    timed = {"seconds", "eval_seconds"} <= set(rows.columns)
    if timed:
        rows = rows.sort_values(["cell", "epoch"]).assign(
            cum_seconds=lambda f: (f["seconds"] + f["eval_seconds"]).groupby(f["cell"]).cumsum())
    for epoch, group in rows.groupby("epoch", sort=True):
        group = group[group["cell"].isin(targets.index)]
        record: dict[str, float | int | str] = {"preset": preset, "epoch": int(epoch),
                                                "cost": float(group["cum_cost"].mean())}
        for i, name in enumerate(targets.columns):
            rho, sd, n = _rho(group["val_acc"].reset_index(drop=True),
                              targets.loc[group["cell"], name].reset_index(drop=True), spread and i == 0)
            record["n"] = n if i == 0 else record["n"]
            record[f"spearman_{name}"] = rho
            if spread and i == 0:
                record[f"spearman_sd_{name}"] = sd
        if timed:
            record["seconds"] = float(group["cum_seconds"].mean())
        out.append(record)
    return pd.DataFrame(out)


def series_points(columns: Mapping[str, tuple[pd.Series, float]], targets: pd.Series, kind: str, *,
                  spread: bool = False) -> pd.DataFrame:
    """One point per labelled series: its Spearman with ``targets`` (cells in both), at the given cost.

    Example:
        >>> t = pd.Series([1.0, 2.0, 3.0], index=list("abc"))
        >>> series_points({"12 epochs": (t, 9375.0)}, t, "benchmark")[["label", "cost", "spearman"]].values.tolist()
        [['12 epochs', 9375.0, 1.0]]
    """
    out = []
    for label, (series, cost) in columns.items():
        common = series.index.intersection(targets.index)
        rho, sd, n = _rho(series.loc[common], targets.loc[common], spread)
        out.append({"label": label, "kind": kind, "cost": float(cost), "spearman": rho, "spearman_sd": sd, "n": n})
    return pd.DataFrame(out, columns=POINT_COLUMNS)


def proxy_points(scores: pd.DataFrame, targets: pd.Series, higher_is_better: Mapping[str, bool] | None = None, *,
                 proxies: Sequence[str] | None = None, vote: Sequence[str] = VOTE_PROXIES,
                 spread: bool = False) -> pd.DataFrame:
    """Zero-cost points: each proxy at ``PROXY_COST``, the vote at ``VOTE_COST``.

    The vote gets two rows: ``vote (rank)``, the Spearman of the mean rank of its members (a real rank
    correlation), and ``vote (pairwise)``, the paper's number: the share of cell pairs a majority of the members
    orders correctly (a concordance rate, not a Spearman; ``zcnas.evaluation.vote_agreement``).

    Args:
        scores: one column per proxy, indexed by cell.
        targets: the target accuracy, indexed by cell (only cells in both count).
        higher_is_better: per proxy; a proxy marked False is negated first. Default: all True.
        proxies: columns to use (default: every column).
        vote: the vote's members (skipped when one is missing).
        spread: add the bootstrap SD of rho at each point's number of cells.
    """
    common = scores.index.intersection(targets.index)
    scores, targets = scores.loc[common], targets.loc[common]
    directions = dict(higher_is_better or {})
    oriented = pd.DataFrame({p: scores[p] if directions.get(p, True) else -scores[p]
                             for p in (proxies or list(scores.columns))}, index=common)
    out = series_points({p: (oriented[p], PROXY_COST) for p in oriented.columns}, targets, "zero-cost",
                        spread=spread)
    if all(p in oriented.columns for p in vote):
        ranked = pd.Series(rank_vote(oriented, vote), index=common)
        out = pd.concat([out, series_points({"vote (rank)": (ranked, VOTE_COST)}, targets, "zero-cost",
                                            spread=spread)], ignore_index=True)
        pairwise = vote_agreement(oriented, targets.to_numpy(float), vote)
        out.loc[len(out)] = {"label": "vote (pairwise)", "kind": "vote-pairwise", "cost": VOTE_COST,
                             "spearman": pairwise.value, "spearman_sd": math.nan, "n": pairwise.n}
    return out


def cost_figure(curves: pd.DataFrame, points: pd.DataFrame, target: str, title: str | None = None) -> Figure:
    """Spearman (y) against cost in minibatch-equivalents (x, log scale): a line per preset, labelled points.

    Args:
        curves: ``epoch_correlations`` rows of one or more presets (columns ``preset``, ``epoch``, ``cost``
            and ``spearman_<target>``).
        points: ``series_points`` / ``proxy_points`` rows (``label``, ``kind``, ``cost``, ``spearman``).
        target: the target whose curves are drawn (the ``spearman_<target>`` column).
        title: the figure title.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    column = f"spearman_{target}"
    if len(curves) and column not in curves.columns:
        have = [c[len("spearman_"):] for c in curves.columns if c.startswith("spearman_") and "_sd_" not in c]
        raise ValueError(f"the curves have no correlation with {target!r}; they have: {', '.join(have)}")
    fig = Figure(figsize=(8.0, 5.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for preset, group in curves.groupby("preset", sort=False):
        group = group.sort_values("epoch")
        n = int(group["n"].max()) if "n" in group else 0
        line, = ax.plot(group["cost"], group[column], marker="o", markersize=3, label=f"{preset} (n={n})")
        last = group.iloc[-1]
        ax.annotate(f"{preset} e{int(last['epoch'])}", (last["cost"], last[column]), textcoords="offset points",
                    xytext=(4, 4), fontsize=8, color=line.get_color())
    markers = {"zero-cost": ("^", "tab:red"), "vote-pairwise": ("^", "none"), "benchmark": ("s", "black")}
    placed: list[tuple[float, float]] = []  # label positions so far, to keep close labels apart
    for _, p in points.sort_values("spearman").iterrows():
        if not np.isfinite(p["spearman"]):
            continue
        marker, face = markers.get(p["kind"], ("D", "tab:gray"))
        ax.scatter([p["cost"]], [p["spearman"]], marker=marker, s=40, zorder=3,
                   facecolors=face, edgecolors="tab:red" if face == "none" else face)
        y = float(p["spearman"])
        while any(c == p["cost"] and abs(y - q) < 0.025 for c, q in placed):
            y += 0.025
        placed.append((p["cost"], y))
        ax.annotate(str(p["label"]), (p["cost"], y), xytext=(5, -3), textcoords="offset points", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("cost (minibatch-equivalents: forward+backward of the full-size network at batch 64)")
    ax.set_ylabel(f"Spearman ρ with {target}")
    ax.grid(True, which="both", alpha=0.3)
    if len(curves):
        ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def write_cost_figure(curves: pd.DataFrame, points: pd.DataFrame, path: str | os.PathLike[str], target: str, *,
                      title: str | None = None, dpi: int = 110) -> Path:
    """Write ``cost_figure`` as a PNG atomically; returns its path.

    Example:
        >>> import tempfile
        >>> curves = pd.DataFrame({"preset": ["eco"] * 2, "epoch": [1, 2], "cost": [1.0, 2.0], "n": [5, 5],
        ...                        "spearman_t": [0.3, 0.5]})
        >>> points = pd.DataFrame({"label": ["synflow"], "kind": ["zero-cost"], "cost": [1.0], "spearman": [0.7]})
        >>> out = write_cost_figure(curves, points, Path(tempfile.mkdtemp()) / "f.png", "t")
        >>> out.read_bytes()[:4] == b"\\x89PNG"
        True
    """
    fig = cost_figure(curves, points, target, title)
    target_path = Path(path)
    with atomic_open(target_path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=dpi)
    return target_path


def cost_markdown(curves: pd.DataFrame, points: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """The curves and the points as two Markdown tables."""
    return markdown_table(curves, floatfmt) + "\n\n" + markdown_table(points, floatfmt)
