"""The correlation summary of a score table: the paper's rank metrics per proxy, seconds per cell, spread.

Example:
    >>> import pandas as pd
    >>> idx = [f"c{i}" for i in range(10)]
    >>> values = pd.DataFrame({"synflow": range(10)}, index=idx, dtype=float)
    >>> loss = pd.Series(range(10, 0, -1), index=idx, dtype=float)       # a loss: lower is better
    >>> round(float(correlation_summary(values, None, loss, target_higher_is_better=False).loc["synflow", "spearman"]), 6)
    1.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from zcnas.evaluation.rank import align_by_index, correlation_table, spearman_spread

__all__ = ["correlation_summary"]


def correlation_summary(
    values: pd.DataFrame,
    seconds: pd.DataFrame | None,
    targets: pd.Series,
    proxies: Sequence[str] | None = None,
    spread_size: int | None = None,
    higher_is_better: Mapping[str, bool] | None = None,
    target_higher_is_better: bool = True,
) -> pd.DataFrame:
    """``correlation_table`` plus ``sec_per_cell`` (mean over the cells that computed a proxy; copies shared
    from isomorphic cells carry 0 s and are left out) and, with ``spread_size``, ``spearman_sd``: the bootstrap
    standard deviation of Spearman on that many cells.

    Args:
        values: one column per proxy, indexed by cell string.
        seconds: the same shape with each value's seconds, or None.
        targets: the ground truth, indexed by cell string.
        proxies: columns to evaluate (default every numeric column).
        spread_size: cells per bootstrap sample for ``spearman_sd``.
        higher_is_better: per column, False when a lower score means a better cell.
        target_higher_is_better: False when the target is a loss.
    """
    table = correlation_table(values, targets, proxies=proxies, higher_is_better=higher_is_better,
                              target_higher_is_better=target_higher_is_better)
    if spread_size:
        scores, aligned = align_by_index(values, targets)
        sign = 1.0 if target_higher_is_better else -1.0
        table["spearman_sd"] = [
            spearman_spread(scores[p], sign * aligned, spread_size) if p in scores else float("nan")
            for p in table.index
        ]
    if seconds is not None:
        per_cell = seconds.where(seconds > 0).mean()
        table["sec_per_cell"] = [float(per_cell.get(p, np.nan)) for p in table.index]
    return table
