"""Random search: uniform random untrained cells; with warmup, the proxy's ranking first.

Warmup ``N`` (the reference notebook's rule): score ``N`` random cells, then train them best-scored first;
once they are all trained (or the budget ends), continue with uniform random untrained cells. Plain random
search trains ``k`` distinct cells drawn uniformly, so its best-by-validation after ``k`` models has a closed
form (``expected_best_of_k``), the baseline the tests hold it to.

Example:
    >>> from zcnas.spaces import get_space
    >>> s = RandomSearch(get_space("nb201"), seed=0)
    >>> s.ask() == RandomSearch(get_space("nb201"), seed=0).ask()
    True
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd
from scipy.special import gammaln

from zcnas.search.base import Searcher, register_searcher
from zcnas.search.warmup import warmup_ranking

__all__ = ["RandomSearch", "expected_best_of_k"]


@register_searcher
class RandomSearch(Searcher):
    """Uniform random search over untrained cells (warmup: the proxy's top cells first)."""

    name = "random"
    description = "uniform random untrained cells; warmup trains the proxy's ranking of N random cells first"

    def setup(self) -> None:
        self._queue: deque[str] = deque()
        if self.warmup:
            assert self.proxy is not None
            self._queue.extend(warmup_ranking(self.space, self.proxy, self.warmup, self.rng))

    def ask(self) -> str:
        while self._queue:
            cell = self._queue.popleft()
            if cell not in self.trained:
                return cell
        return self.random_untrained()


def _log_comb(n: np.ndarray | int, k: int) -> np.ndarray:
    n = np.asarray(n, dtype=float)
    out = np.full(n.shape, -np.inf)
    ok = n >= k
    out[ok] = gammaln(n[ok] + 1) - gammaln(k + 1) - gammaln(n[ok] - k + 1)
    return out


def expected_best_of_k(val: pd.Series, test: pd.Series, k: int) -> float:
    """E[test accuracy of the best-by-validation of ``k`` distinct cells drawn uniformly from the table].

    Cells are grouped by equal validation accuracy. With ``a`` cells above a group of ``m`` cells among
    ``N``, the group holds the sample's best with probability ``(C(N-a, k) - C(N-a-m, k)) / C(N, k)``; the
    chosen cell is then uniform among the group's members in the sample, so it contributes the group's
    mean test accuracy. NaN validation accuracies rank last (as in the search).

    Example:
        >>> v = pd.Series([1.0, 2.0, 3.0]); t = pd.Series([10.0, 20.0, 30.0])
        >>> round(expected_best_of_k(v, t, 2), 6)   # pairs: (1,2)->20, (1,3)->30, (2,3)->30
        26.666667
    """
    n = len(val)
    if not 1 <= k <= n:
        raise ValueError(f"k={k} is not allowed; use 1..{n}")
    frame = pd.DataFrame({"val": val.to_numpy(dtype=float), "test": test.to_numpy(dtype=float)})
    frame["val"] = frame["val"].fillna(-np.inf)
    groups = frame.groupby("val", sort=True)["test"].agg(["size", "mean"]).iloc[::-1]
    sizes = groups["size"].to_numpy()
    above = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    total = _log_comb(n, k)
    p = np.exp(_log_comb(n - above, k) - total) - np.exp(_log_comb(n - above - sizes, k) - total)
    return float(np.sum(p * groups["mean"].to_numpy()))
