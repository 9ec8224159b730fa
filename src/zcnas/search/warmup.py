"""Zero-cost warmup and move proposal: the two ways a proxy helps a search.

Warmup: score ``n`` random cells with the proxy and hand the search the ranking, best first (``warmup_ranking``).
Move proposal: among candidate cells, take the proxy-best (``proxy_best``).

NaN scores (a proxy undefined for a cell) rank last, below every finite score, whichever way the proxy
points; ties keep the order the cells were drawn in, so a ranking is a function of the seed.

The reference notebook draws the warmup sample with replacement; here it is drawn without replacement by
default (``replace=False``), so a warmup of the space's size scores every cell once. ``replace=True``
reproduces the notebook (duplicates are scored once and ranked once).

Example:
    >>> rank_by_proxy(["a", "b", "c", "d"], [1.0, float("nan"), 3.0, 1.0], higher_is_better=True)
    ['c', 'a', 'd', 'b']
    >>> rank_by_proxy(["a", "b", "c"], [1.0, float("nan"), 3.0], higher_is_better=False)
    ['a', 'c', 'b']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zcnas.search.proxy_source import ProxySource
from zcnas.spaces.base import SearchSpace

__all__ = ["proxy_best", "rank_by_proxy", "sort_key", "warmup_ranking", "warmup_sample"]


def sort_key(scores: Sequence[float] | np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Scores turned so that larger is better and NaN is ``-inf`` (last)."""
    values = np.asarray(scores, dtype=float)
    key = values if higher_is_better else -values
    return np.where(np.isnan(key), -np.inf, key)


def rank_by_proxy(cells: Sequence[str], scores: Sequence[float] | np.ndarray, higher_is_better: bool) -> list[str]:
    """``cells`` best-scored first; NaN last; ties in the given order."""
    if len(cells) != len(scores):
        raise ValueError(f"{len(cells)} cells but {len(scores)} scores")
    order = np.argsort(-sort_key(scores, higher_is_better), kind="stable")
    return [cells[i] for i in order]


def proxy_best(cells: Sequence[str], source: ProxySource) -> int:
    """The position of the proxy-best of ``cells`` (the first among equals; a NaN only when all are NaN)."""
    if not cells:
        raise ValueError("proxy_best needs at least one cell")
    return int(np.argmax(sort_key(source.scores(cells), source.higher_is_better)))


def warmup_sample(space: SearchSpace, n: int, rng: np.random.Generator, replace: bool = False) -> list[str]:
    """``n`` encoded cells drawn uniformly with ``rng`` (distinct unless ``replace``; first-seen order kept)."""
    size = space.size
    if not replace and size is not None and n > size:
        raise ValueError(f"warmup={n} is more than the {size} cells of space {space.name!r}; use at most {size}")
    cells = [space.encode(c) for c in space.sample(n, rng, replace=replace)]
    return list(dict.fromkeys(cells))


def warmup_ranking(
    space: SearchSpace, source: ProxySource, n: int, rng: np.random.Generator, replace: bool = False
) -> list[str]:
    """Score ``n`` random cells with ``source``; return them best first (see ``rank_by_proxy``)."""
    cells = warmup_sample(space, n, rng, replace=replace)
    return rank_by_proxy(cells, source.scores(cells), source.higher_is_better)
