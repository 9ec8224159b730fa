"""One search: ask, train through a ``Ledger``, tell, until ``budget`` distinct models are trained.

The trajectory has one row per trained model, in training order:

- ``trained``: 1..budget; ``arch``, ``val_acc``, ``test_acc``, ``cost`` of that model;
- ``best_val``: the best validation accuracy among the first ``trained`` models;
- ``best_test``: the test accuracy of the model that holds ``best_val`` (the first to reach it: a later
  model with an equal validation accuracy does not replace it). This is what a search reports;
- ``best_test_seen``: the best test accuracy among the first ``trained`` models, tracked apart from
  validation (what the zero-cost reference notebook plots; it peeks at the test set);
- ``asked``: how many cells the searcher had asked for when this model was trained (repeats included).

A cell asked for again is answered from the record and told to the searcher as if trained again; it is
not counted and adds no row. After ``max_repeats`` repeats in a row the loop trains a uniform random
untrained cell instead (an "escape", counted in ``SearchOutcome.escapes``), so a searcher that has
converged onto trained cells cannot stall a search.

Example:
    >>> import pandas as pd
    >>> from zcnas.benchmarks.base import FrameTable
    >>> from zcnas.search.trainer import TabularTrainer
    >>> from zcnas.spaces import get_space
    >>> space = get_space("nb201")
    >>> cells = [space.encode(c) for c in space.cells()]
    >>> table = FrameTable(pd.DataFrame({"toy_val": range(len(cells)), "toy_test": range(len(cells))},
    ...                                 index=cells, dtype=float), space="nb201")
    >>> out = run_one(space, TabularTrainer(table, "toy"), "random", budget=5, seed=0)
    >>> len(out.trajectory), bool(out.trajectory["best_val"].is_monotonic_increasing)
    (5, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from zcnas.search.base import make_searcher
from zcnas.search.proxy_source import ProxySource
from zcnas.search.trainer import Ledger, Trainer
from zcnas.spaces.base import SearchSpace

__all__ = ["SearchOutcome", "best_so_far", "run_one"]


@dataclass
class SearchOutcome:
    """A finished search: its trajectory and counts (repeats answered from the record, escapes)."""

    trajectory: pd.DataFrame
    repeats: int
    escapes: int
    proxy_computed: int


def best_so_far(val: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(best_val, best_test, best_test_seen)`` after each model; NaN accuracies never lead.

    Example:
        >>> bv, bt, seen = best_so_far(np.array([1.0, 3.0, 3.0, 2.0]), np.array([5.0, 4.0, 9.0, 8.0]))
        >>> bv.tolist(), bt.tolist(), seen.tolist()
        ([1.0, 3.0, 3.0, 3.0], [5.0, 4.0, 4.0, 4.0], [5.0, 5.0, 9.0, 9.0])
    """
    n = len(val)
    best_val, best_test, seen = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    bv, bt, bs = -math.inf, math.nan, -math.inf
    for i in range(n):
        v, t = float(val[i]), float(test[i])
        if not math.isnan(v) and v > bv:
            bv, bt = v, t
        if not math.isnan(t) and t > bs:
            bs = t
        best_val[i] = bv if bv > -math.inf else math.nan
        best_test[i] = bt
        seen[i] = bs if bs > -math.inf else math.nan
    return best_val, best_test, seen


def run_one(
    space: SearchSpace,
    trainer: Trainer,
    algo: str,
    *,
    budget: int,
    seed: int | np.random.Generator,
    proxy: ProxySource | None = None,
    warmup: int = 0,
    move: bool | int | None = None,
    options: Mapping[str, Any] | None = None,
    max_repeats: int = 10_000,
) -> SearchOutcome:
    """Run ``algo`` on ``space`` until ``budget`` distinct cells are trained by ``trainer``.

    Arguments are checked by the searcher (``zcnas.search.base``); ``run_search`` checks the whole command.
    """
    searcher = make_searcher(algo, space, seed=seed, proxy=proxy, warmup=warmup, move=move, **dict(options or {}))
    ledger = Ledger(trainer)
    rows: list[tuple[str, float, float, float, int]] = []
    asked = escapes = in_a_row = 0
    while ledger.trained < budget:
        if in_a_row >= max_repeats:
            cell = searcher.random_untrained(set(ledger.record))
            escapes += 1
        else:
            cell = searcher.ask()
        asked += 1
        result = ledger.train(cell)
        searcher.tell(result)
        if result.new:
            in_a_row = 0
            rows.append((cell, result.val_acc, result.test_acc, result.cost, asked))
        else:
            in_a_row += 1
    arch, val, test, cost, asks = zip(*rows) if rows else ((), (), (), (), ())
    val_a, test_a = np.asarray(val, dtype=float), np.asarray(test, dtype=float)
    best_val, best_test, seen = best_so_far(val_a, test_a)
    frame = pd.DataFrame({
        "trained": np.arange(1, len(rows) + 1, dtype=np.int32),
        "arch": list(arch),
        "val_acc": val_a,
        "test_acc": test_a,
        "cost": np.asarray(cost, dtype=float),
        "best_val": best_val,
        "best_test": best_test,
        "best_test_seen": seen,
        "asked": np.asarray(asks, dtype=np.int64),
    })
    computed = proxy.computed if proxy is not None else 0
    return SearchOutcome(frame, ledger.repeats, escapes, computed)
