"""The ground-truth protocol: a benchmark table maps a space's cells to trained metrics, and its registry.

A ``BenchmarkTable`` answers, for the cells of one space (keyed by the space's ``encode``\\d strings): which
metrics it has, which direction each one points (accuracy: higher is better; a loss: lower is better), the
value of a metric for a cell, a whole metric as a Series, and the official order of its cells where the
benchmark has one. It also says which metric plays validation and which plays test for a dataset, so a search
selects on the one and reports the other without naming columns.

Correlation and search read ground truth only through this protocol; a new benchmark is one module with one
``register_benchmark`` call.

Example:
    >>> from zcnas.benchmarks import get_benchmark
    >>> table = get_benchmark("nb201")                      # doctest: +SKIP
    >>> table.direction("cifar10_test_200ep"), table.split_metric("cifar100", "val")  # doctest: +SKIP
    ('max', 'cifar100_val_200ep')
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

__all__ = [
    "BenchmarkInfo",
    "BenchmarkTable",
    "FrameTable",
    "get_benchmark",
    "benchmark_info",
    "list_benchmarks",
    "register_benchmark",
    "unregister_benchmark",
]

Direction = Literal["max", "min"]


class BenchmarkTable(ABC):
    """Trained results of a space's cells.

    Attributes:
        space: the name of the space whose cells the table holds.
    """

    space: str = ""

    @property
    @abstractmethod
    def metrics(self) -> list[str]:
        """The metric names (columns)."""

    @abstractmethod
    def column(self, metric: str) -> pd.Series:
        """One metric for every cell, indexed by cell string, in the table's order (official where one exists)."""

    def direction(self, metric: str) -> Direction:
        """"max" when a larger value is better (accuracy), "min" when smaller is (a loss). Default "max"."""
        self._check_metric(metric)
        return "max"

    def higher_is_better(self, metric: str) -> bool:
        """Whether a larger ``metric`` means a better cell."""
        return self.direction(metric) == "max"

    def accuracy(self, cell: str, metric: str) -> float:
        """The value of ``metric`` for ``cell`` (a cell string); an unknown cell or metric raises KeyError."""
        series = self.column(metric)
        if cell not in series.index:
            raise KeyError(f"cell {cell!r} is not in the {self.space} benchmark table")
        return float(series.loc[cell])

    @property
    def cells(self) -> list[str]:
        """Every cell string, in the table's order."""
        return self.column(self.metrics[0]).index.tolist()

    @property
    def has_official_order(self) -> bool:
        """Whether ``cell_at`` / ``index_of`` follow an official numbering of the benchmark."""
        return False

    def cell_at(self, index: int) -> str:
        """The cell at an official index; NotImplementedError when the benchmark has no numbering."""
        raise NotImplementedError(f"the {self.space} benchmark table has no official index order")

    def index_of(self, cell: str) -> int:
        """The official index of a cell; NotImplementedError when the benchmark has no numbering."""
        raise NotImplementedError(f"the {self.space} benchmark table has no official index order")

    def split_metric(self, dataset: str, split: Literal["val", "test"]) -> str:
        """The metric that plays validation (``"val"``) or test (``"test"``) for ``dataset``.

        The default looks for ``<dataset>_<split>`` as a prefix of a metric name.
        """
        if split not in ("val", "test"):
            raise ValueError(f"split {split!r} is not allowed; use 'val' or 'test'")
        prefix = f"{dataset}_{split}"
        found = [m for m in self.metrics if m == prefix or m.startswith(prefix + "_")]
        if not found:
            raise ValueError(
                f"the {self.space} benchmark table has no {split} metric for dataset {dataset!r}; "
                f"metrics: {', '.join(self.metrics)}"
            )
        return found[0]

    def datasets(self) -> list[str]:
        """Datasets for which both a validation and a test metric exist."""
        names = []
        for metric in self.metrics:
            for split in ("_val", "_test"):
                if split in metric:
                    names.append(metric.split(split)[0])
        result = []
        for name in dict.fromkeys(names):
            try:
                self.split_metric(name, "val"), self.split_metric(name, "test")
            except ValueError:
                continue
            result.append(name)
        return result

    def _check_metric(self, metric: str) -> None:
        if metric not in self.metrics:
            raise KeyError(f"metric {metric!r} is not in the {self.space} benchmark table; allowed: "
                           f"{', '.join(self.metrics)}")

    def __len__(self) -> int:
        return len(self.cells)

    def __contains__(self, cell: object) -> bool:
        return isinstance(cell, str) and cell in set(self.cells)


class FrameTable(BenchmarkTable):
    """A ``BenchmarkTable`` over a DataFrame indexed by cell string, one column per metric.

    Args:
        frame: index = cell strings, columns = metrics (numbers).
        space: the space's name.
        directions: metric -> "max" | "min" for metrics where lower is better (default "max").
        splits: optional ``{(dataset, split): metric}`` overriding ``split_metric``'s name rule.

    Example:
        >>> import pandas as pd
        >>> t = FrameTable(pd.DataFrame({"ptb_test_loss": [4.5, 4.8]}, index=["a", "b"]), space="toy",
        ...                directions={"ptb_test_loss": "min"})
        >>> t.direction("ptb_test_loss"), t.accuracy("b", "ptb_test_loss")
        ('min', 4.8)
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        space: str,
        directions: dict[str, Direction] | None = None,
        splits: dict[tuple[str, str], str] | None = None,
    ) -> None:
        if frame.index.has_duplicates:
            raise ValueError(f"the {space} benchmark table repeats the cell {frame.index[frame.index.duplicated()][0]!r}")
        self._frame = frame.astype("float64")
        self.space = space
        self._directions = dict(directions or {})
        for metric, way in self._directions.items():
            if way not in ("max", "min"):
                raise ValueError(f"direction {way!r} of metric {metric!r} is not allowed; use 'max' or 'min'")
        self._splits = dict(splits or {})

    @property
    def metrics(self) -> list[str]:
        return list(self._frame.columns)

    def column(self, metric: str) -> pd.Series:
        self._check_metric(metric)
        return self._frame[metric].copy()

    def direction(self, metric: str) -> Direction:
        self._check_metric(metric)
        return self._directions.get(metric, "max")

    def accuracy(self, cell: str, metric: str) -> float:
        self._check_metric(metric)
        if cell not in self._frame.index:
            raise KeyError(f"cell {cell!r} is not in the {self.space} benchmark table")
        return float(self._frame.at[cell, metric])

    @property
    def cells(self) -> list[str]:
        return self._frame.index.tolist()

    def __contains__(self, cell: object) -> bool:
        return isinstance(cell, str) and cell in self._frame.index

    def split_metric(self, dataset: str, split: Literal["val", "test"]) -> str:
        if (dataset, split) in self._splits:
            return self._splits[(dataset, split)]
        return super().split_metric(dataset, split)


# ---------------------------------------------------------------------- registry


@dataclass(frozen=True)
class BenchmarkInfo:
    """A registered benchmark: its name, the space of its cells, a loader and a description."""

    name: str
    space: str
    loader: Callable[..., BenchmarkTable]
    description: str = ""


_REGISTRY: dict[str, BenchmarkInfo] = {}
_builtins_loaded = False
_BUILTIN_MODULES: tuple[str, ...] = ("zcnas.benchmarks.nb201", "zcnas.benchmarks.zoo", "zcnas.benchmarks.nbnlp", "zcnas.benchmarks.nb101")


def register_benchmark(
    name: str, *, space: str, loader: Callable[..., BenchmarkTable], description: str = ""
) -> None:
    """Register a ground-truth table: ``loader(path=None)`` returns it (``path`` names a user's own file).

    Example:
        >>> import pandas as pd
        >>> register_benchmark("doc_toy", space="doc_toy",
        ...                    loader=lambda path=None: FrameTable(pd.DataFrame({"acc": [1.0]}, index=["a"]), "doc_toy"))
        >>> get_benchmark("doc_toy").accuracy("a", "acc")
        1.0
        >>> unregister_benchmark("doc_toy")
    """
    if name in _REGISTRY:
        raise KeyError(f"a benchmark named {name!r} is already registered")
    _REGISTRY[name] = BenchmarkInfo(name, space, loader, description)


def unregister_benchmark(name: str) -> None:
    """Remove a benchmark from the registry."""
    _REGISTRY.pop(name, None)


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for module in _BUILTIN_MODULES:
            importlib.import_module(module)


def list_benchmarks(space: str | None = None) -> list[str]:
    """Registered benchmark names, sorted; ``space`` keeps those of one space."""
    _load_builtins()
    return sorted(n for n, info in _REGISTRY.items() if space is None or info.space == space)


def benchmark_info(name: str) -> BenchmarkInfo:
    """The registration of ``name``; an unknown name raises ValueError listing the known ones."""
    _load_builtins()
    if name not in _REGISTRY:
        raise ValueError(f"unknown benchmark {name!r}; available: {', '.join(sorted(_REGISTRY)) or 'none'}")
    return _REGISTRY[name]


def get_benchmark(name: str, path: Any = None) -> BenchmarkTable:
    """Load the registered benchmark ``name`` (from ``path`` when given, else its default data file)."""
    info = benchmark_info(name)
    return info.loader(path) if path is not None else info.loader()


def metric_values(table: BenchmarkTable, metric: str, cells: Sequence[str]) -> pd.Series:
    """``metric`` for ``cells`` (NaN where the table lacks a cell), indexed by cell."""
    return table.column(metric).reindex(list(cells))
