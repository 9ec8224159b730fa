"""Where a search gets proxy scores: a committed score table, or the scoring engine on the fly (cached).

A ``ProxySource`` maps cell strings to floats (NaN where the score is undefined or failed) and says whether a
larger score is better. ``TableSource`` reads one proxy column of a result folder (``ResultStore.pivot()``);
cells missing from the table go to an optional fallback source. ``ComputedSource`` calls a scoring function
once per cell and keeps the answers; ``scorer_source`` makes one over ``zcnas.scoring.Scorer``.
``find_score_table`` looks through result folders for one made for a space, dataset and proxy.

Scoring a cell is not training it: a source never touches the trained-model budget.

Example:
    >>> import pandas as pd
    >>> src = TableSource(pd.Series({"a": 1.0, "b": float("nan")}), "toy")
    >>> src.scores(["b", "a"]).tolist()
    [nan, 1.0]
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from zcnas.proxies import get_proxy, list_proxies
from zcnas.scoring import Scorer, ScoreSettings
from zcnas.scoring.store import ResultStore
from zcnas.spaces.base import SearchSpace

__all__ = [
    "ComputedSource",
    "ProxySource",
    "TableSource",
    "find_score_table",
    "load_score_table",
    "proxy_direction",
    "scorer_source",
]


def proxy_direction(proxy: str) -> bool:
    """Whether a larger ``proxy`` score is better: the registry's word for a registered proxy, else True."""
    return bool(get_proxy(proxy).higher_is_better) if proxy in list_proxies() else True


class ProxySource(ABC):
    """Proxy scores of cells.

    Attributes:
        name: the proxy's name.
        higher_is_better: the direction of the score.
        computed: how many cells this source had to compute (0 for a full table).
    """

    name: str = ""
    higher_is_better: bool = True
    computed: int = 0

    @abstractmethod
    def scores(self, cells: Sequence[str]) -> np.ndarray:
        """One float per cell (NaN where undefined), in the order given."""


class TableSource(ProxySource):
    """One proxy column of a score table.

    Args:
        column: scores indexed by cell string.
        name: the proxy's name.
        higher_is_better: the direction (default: the registry's, see ``proxy_direction``).
        fallback: a source for cells the table lacks; without one such a cell raises KeyError.
    """

    def __init__(
        self,
        column: pd.Series,
        name: str,
        higher_is_better: bool | None = None,
        fallback: ProxySource | None = None,
    ) -> None:
        self.name = name
        self.higher_is_better = proxy_direction(name) if higher_is_better is None else bool(higher_is_better)
        self._values = {str(c): float(v) for c, v in zip(column.index, column.to_numpy(dtype=float))}
        self.fallback = fallback

    def __len__(self) -> int:
        return len(self._values)

    def covers(self, cells: Iterable[str]) -> bool:
        """Whether the table has a row for every one of ``cells``."""
        return all(c in self._values for c in cells)

    @property
    def computed(self) -> int:  # type: ignore[override]
        return self.fallback.computed if self.fallback is not None else 0

    def scores(self, cells: Sequence[str]) -> np.ndarray:
        get = self._values.get
        out = np.array([get(c, np.nan) for c in cells], dtype=float)
        missing = [i for i, c in enumerate(cells) if c not in self._values]
        if missing:
            if self.fallback is None:
                raise KeyError(f"the {self.name} score table has no row for cell {cells[missing[0]]!r} "
                               "and no way to compute it")
            out[missing] = self.fallback.scores([cells[i] for i in missing])
        return out


class ComputedSource(ProxySource):
    """Scores from ``score_fn(cells) -> floats``, each cell computed once and cached.

    Example:
        >>> src = ComputedSource(lambda cells: [float(len(c)) for c in cells], "length")
        >>> src.scores(["ab", "abc", "ab"]).tolist(), src.computed
        ([2.0, 3.0, 2.0], 2)
    """

    def __init__(
        self,
        score_fn: Callable[[list[str]], Sequence[float]],
        name: str,
        higher_is_better: bool | None = None,
    ) -> None:
        self.name = name
        self.higher_is_better = proxy_direction(name) if higher_is_better is None else bool(higher_is_better)
        self.score_fn = score_fn
        self._cache: dict[str, float] = {}

    @property
    def computed(self) -> int:  # type: ignore[override]
        return len(self._cache)

    def scores(self, cells: Sequence[str]) -> np.ndarray:
        todo = list(dict.fromkeys(c for c in cells if c not in self._cache))
        if todo:
            values = np.asarray(self.score_fn(todo), dtype=float)
            if values.shape != (len(todo),):
                raise ValueError(f"the {self.name} scoring function returned {values.shape[0] if values.ndim else 0} "
                                 f"scores for {len(todo)} cells")
            self._cache.update(zip(todo, values.tolist()))
        return np.array([self._cache[c] for c in cells], dtype=float)


def scorer_source(
    space: SearchSpace,
    dataset: str,
    proxy: str,
    store: str | os.PathLike[str] | None = None,
    **settings: object,
) -> ComputedSource:
    """A ``ComputedSource`` over ``zcnas.scoring.Scorer`` with default settings for ``proxy`` on ``dataset``.

    ``store`` keeps the scores in a result folder (resumable); ``settings`` are further ``ScoreSettings``
    fields (e.g. ``batch_size``). Bad settings (an unknown proxy, a dataset without minibatches for a
    data-dependent proxy) raise ValueError here, before any search starts.
    """
    score_settings = ScoreSettings(proxies=(proxy,), space=space.name, dataset=dataset, **settings)
    scorer = Scorer(space, score_settings, store)

    def score_fn(cells: list[str]) -> list[float]:
        return scorer.score(cells)[proxy].to_numpy(dtype=float).tolist()

    return ComputedSource(score_fn, proxy)


def _config(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def load_score_table(folder: str | os.PathLike[str], proxy: str, space: SearchSpace | None = None,
                     dataset: str | None = None) -> pd.Series:
    """The ``proxy`` column of the result folder ``folder`` (NaN rows kept), checked against space and dataset.

    Raises:
        ValueError: the folder is not a result folder, was made for another space or dataset, or lacks the proxy.
    """
    path = Path(folder)
    config = _config(path)
    if config is None:
        raise ValueError(f"score table {str(path)!r} is not a result folder (no readable config.json)")
    if space is not None and config.get("space") != space.name:
        raise ValueError(f"score table {str(path)!r} is for space {config.get('space')!r}, not {space.name!r}")
    if dataset is not None and config.get("dataset") not in (None, dataset):
        raise ValueError(f"score table {str(path)!r} is for dataset {config.get('dataset')!r}, not {dataset!r}")
    table = ResultStore(path, read_only=True).pivot()
    if proxy not in table.columns:
        raise ValueError(f"score table {str(path)!r} has no {proxy!r} scores; it has: {', '.join(map(str, table.columns))}")
    return table[proxy]


def find_score_table(
    space: SearchSpace, dataset: str, proxy: str, roots: Sequence[str | os.PathLike[str]] = ("results",)
) -> Path | None:
    """The result folder under ``roots`` (one level deep) made for ``space``, ``dataset`` and ``proxy``.

    The folder's recorded space options must be the space's defaults. Among several, the one with the most
    scored cells wins (ties: the first by name). None when there is none.
    """
    defaults = space.check_options({})
    found: list[tuple[int, str, Path]] = []
    for root in roots:
        base = Path(root)
        if not base.is_dir():
            continue
        for folder in sorted(p for p in base.iterdir() if p.is_dir()):
            config = _config(folder)
            if not config or config.get("space") != space.name or config.get("dataset") != dataset:
                continue
            if proxy not in config.get("proxies", ()):
                continue
            if any(config.get(k, v) != v for k, v in defaults.items()):
                continue
            rows = int(ResultStore(folder, read_only=True).pivot().get(proxy, pd.Series(dtype=float)).notna().sum())
            found.append((-rows, folder.name, folder))
    if not found:
        return None
    return sorted(found)[0][2]
