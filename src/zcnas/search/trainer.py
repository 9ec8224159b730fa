"""Trainers: train a cell, give back its validation accuracy, test accuracy and cost.

A search selects on ``val_acc`` and reports ``test_acc``. ``TabularTrainer`` looks both up in a
``BenchmarkTable`` (the metrics its ``split_metric`` names for a dataset); ``FunctionTrainer`` wraps a user's
own training function. ``Ledger`` sits between a search and any trainer: it trains each cell once, counts it
once, and answers a repeated cell from its record without training or counting it again.

Example:
    >>> import pandas as pd
    >>> from zcnas.benchmarks.base import FrameTable
    >>> table = FrameTable(pd.DataFrame({"toy_val": [60.0, 70.0], "toy_test": [59.0, 68.5]}, index=["a", "b"]),
    ...                    space="toy")
    >>> ledger = Ledger(TabularTrainer(table, "toy"))
    >>> ledger.train("b").test_acc, ledger.train("b").new, ledger.trained
    (68.5, False, 1)
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace

from zcnas.benchmarks.base import BenchmarkTable

__all__ = ["FunctionTrainer", "Ledger", "TabularTrainer", "TrainResult", "Trainer"]


@dataclass(frozen=True)
class TrainResult:
    """The outcome of training one cell.

    Attributes:
        cell: the encoded cell.
        val_acc: the accuracy a search selects on (higher is better).
        test_acc: the accuracy a search reports.
        cost: what the training cost (a table's train time, seconds of a real run, or 1.0 per model).
        new: False when a ``Ledger`` answered from its record (no training, not counted).
    """

    cell: str
    val_acc: float
    test_acc: float
    cost: float = 1.0
    new: bool = True


class Trainer(ABC):
    """Trains a cell string; a subclass implements ``train``."""

    @abstractmethod
    def train(self, cell: str) -> TrainResult:
        """Train ``cell`` and return its accuracies and cost."""


class TabularTrainer(Trainer):
    """Accuracies looked up in a benchmark table (no training); cost 1.0 per model.

    Args:
        table: the ground truth.
        dataset: the dataset whose validation and test metrics (``table.split_metric``) are read.

    A metric where lower is better (a loss) is refused: a search here maximises ``val_acc``.
    """

    def __init__(self, table: BenchmarkTable, dataset: str) -> None:
        self.val_metric = table.split_metric(dataset, "val")
        self.test_metric = table.split_metric(dataset, "test")
        for metric in (self.val_metric, self.test_metric):
            if not table.higher_is_better(metric):
                raise ValueError(f"metric {metric!r} is lower-is-better; a search here needs accuracies")
        val = table.column(self.val_metric)
        test = table.column(self.test_metric).reindex(val.index)
        self._rows = {c: (float(v), float(t)) for c, v, t in zip(val.index, val.to_numpy(), test.to_numpy())}
        self.table, self.dataset = table, dataset

    @property
    def cells(self) -> list[str]:
        """The cells the table has accuracies for."""
        return list(self._rows)

    def train(self, cell: str) -> TrainResult:
        try:
            val, test = self._rows[cell]
        except KeyError:
            raise KeyError(f"cell {cell!r} is not in the {self.table.space} benchmark table") from None
        return TrainResult(cell, val, test, 1.0)


class FunctionTrainer(Trainer):
    """A user's training function ``fn(cell) -> (val_acc, test_acc)`` or ``(val_acc, test_acc, cost)``.

    Example:
        >>> FunctionTrainer(lambda cell: (len(cell), 0.0)).train("abc")
        TrainResult(cell='abc', val_acc=3.0, test_acc=0.0, cost=1.0, new=True)
    """

    def __init__(self, fn: Callable[[str], tuple[float, ...]]) -> None:
        if not callable(fn):
            raise TypeError(f"FunctionTrainer needs a callable, not {type(fn).__name__}")
        self.fn = fn

    def train(self, cell: str) -> TrainResult:
        out = tuple(self.fn(cell))
        if len(out) not in (2, 3):
            raise ValueError(f"the training function returned {len(out)} values for {cell!r}; return "
                             "(val_acc, test_acc) or (val_acc, test_acc, cost)")
        cost = float(out[2]) if len(out) == 3 else 1.0
        return TrainResult(cell, float(out[0]), float(out[1]), cost)


class Ledger:
    """Trains each cell once through ``trainer`` and keeps the record.

    ``train(cell)`` trains and counts a new cell; a cell already trained comes back from the record with
    ``new=False``, uncounted. A NaN validation accuracy (a failed training) is kept as NaN: it never becomes
    the best model.

    Attributes:
        trained: how many distinct cells were trained.
        repeats: how many times a trained cell was asked for again.
        cost: the summed cost of the trainings.
    """

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.record: dict[str, TrainResult] = {}
        self.repeats = 0
        self.cost = 0.0

    @property
    def trained(self) -> int:
        return len(self.record)

    def __contains__(self, cell: object) -> bool:
        return cell in self.record

    def train(self, cell: str) -> TrainResult:
        """The result of ``cell``: trained now (``new=True``) or from the record (``new=False``)."""
        known = self.record.get(cell)
        if known is not None:
            self.repeats += 1
            return replace(known, new=False)
        result = self.trainer.train(cell)
        if result.cell != cell:
            result = replace(result, cell=cell)
        if not math.isfinite(result.cost):
            result = replace(result, cost=math.nan)
        self.record[cell] = result
        self.cost += result.cost if math.isfinite(result.cost) else 0.0
        return result
