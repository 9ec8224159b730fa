"""NAS-Bench-201 ground truth: a small table interface over the compact CSV (or the official files).

The table maps each cell string to its accuracies (and, from the official files, costs). Indices are the
benchmark's OFFICIAL indices (0..15624), the order of the official API's ``meta_archs``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from zcnas.benchmarks._official import read_official
from zcnas.benchmarks.base import BenchmarkTable, register_benchmark
from zcnas.data.paths import data_file
from zcnas.spaces import nb201 as nb201_space

__all__ = [
    "NB201_CSV",
    "NB201_OPS",
    "NB201_SIZE",
    "BenchmarkIndexError",
    "BenchmarkKeyError",
    "NB201Table",
    "is_nb201_arch",
    "load_nb201",
    "load_nb201_official",
]

#: The compact table, relative to the data folder.
NB201_CSV = "nb201/nb201_accuracies.csv"
#: Number of cells in the NAS-Bench-201 space (5 ops on 6 edges).
NB201_SIZE = 15625
#: The operation names of NAS-Bench-201 cell strings (defined by the space, repeated here for old imports).
NB201_OPS: tuple[str, ...] = nb201_space.OPS

_EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


class BenchmarkKeyError(KeyError, ValueError):
    """An unknown architecture or metric (a ``KeyError`` and a ``ValueError``), with a readable message."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class BenchmarkIndexError(IndexError, ValueError):
    """A benchmark index outside the space (an ``IndexError`` and a ``ValueError``)."""


def is_nb201_arch(arch: object) -> bool:
    """Whether ``arch`` is a well-formed NAS-Bench-201 cell string (6 edges, known ops, inputs in order).

    Example:
        >>> is_nb201_arch("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
        True
        >>> is_nb201_arch("|conv~0|")
        False
    """
    return isinstance(arch, str) and nb201_space.is_valid(arch)


class NB201Table(BenchmarkTable):
    """Accuracies (and costs) of NAS-Bench-201 cells, indexed by cell string, in official index order.

    Implements the ``BenchmarkTable`` protocol (every metric: higher is better, except costs); validation
    and test metrics for a dataset are its 200-epoch ``<dataset>_val_200ep`` / ``<dataset>_test_200ep``.

    Args:
        frame: A DataFrame with an integer ``index`` column (the official index), an ``arch_str`` column
            (or index) and one float column per metric.
        total: Size of the index space (default: the largest index + 1); indices in ``0..total-1`` that are
            not in the table are "not evaluated" rather than out of range.
        source: Where the table came from, for messages.

    Example:
        >>> import pandas as pd
        >>> t = NB201Table(pd.DataFrame({"index": [0], "arch_str": [_EXAMPLE], "cifar10_test_200ep": [94.0]}))
        >>> t.accuracy(0, "cifar10_test_200ep")
        94.0
    """

    def __init__(self, frame: pd.DataFrame, *, total: int | None = None, source: str = "a table") -> None:
        df = frame.copy()
        if "arch_str" not in df.columns and df.index.name == "arch_str":
            df = df.reset_index()
        missing = [c for c in ("index", "arch_str") if c not in df.columns]
        if missing:
            raise ValueError(f"{source} lacks the column(s) {', '.join(missing)}; found {list(df.columns)}.")
        if df["index"].isna().any() or df["arch_str"].isna().any():
            raise ValueError(f"{source} has rows without an index or an arch_str.")
        df["index"] = df["index"].astype(np.int64)
        df["arch_str"] = df["arch_str"].astype(str)
        bad = [a for a in df["arch_str"] if not is_nb201_arch(a)]
        if bad:
            raise ValueError(
                f"{source} holds {len(bad)} malformed NAS-Bench-201 cell string(s), e.g. {bad[0]!r}."
            )
        for col in ("index", "arch_str"):
            dup = df[col][df[col].duplicated()]
            if len(dup):
                raise ValueError(f"{source} repeats the {col} {dup.iloc[0]!r}.")
        if (df["index"] < 0).any():
            raise ValueError(f"{source} has negative indices, e.g. {int(df['index'].min())}.")
        df = df.sort_values("index").set_index("arch_str")
        metrics = [c for c in df.columns if c != "index"]
        df[metrics] = df[metrics].astype(np.float64)
        self._df = df
        self._metrics = metrics
        self._total = int(total) if total is not None else (int(df["index"].max()) + 1 if len(df) else 0)
        if len(df) and int(df["index"].max()) >= self._total:
            raise ValueError(
                f"{source} has index {int(df['index'].max())} beyond its total of {self._total}."
            )
        self._arch_by_index: dict[int, str] = dict(zip(df["index"].tolist(), df.index.tolist(), strict=True))
        self._index_by_arch: dict[str, int] = {a: i for i, a in self._arch_by_index.items()}
        self._source = source

    space = "nb201"

    # ------------------------------------------------------------------ basic views
    def __len__(self) -> int:
        return len(self._df)

    def __contains__(self, arch: object) -> bool:
        return isinstance(arch, str) and arch in self._index_by_arch

    def __repr__(self) -> str:
        return f"NB201Table({len(self)} of {self._total} architectures, metrics={self._metrics}, from {self._source})"

    @property
    def total(self) -> int:
        """Size of the index space (15,625 for the full benchmark)."""
        return self._total

    @property
    def metrics(self) -> list[str]:
        """Metric column names, e.g. ``["cifar10_test_200ep", ...]``."""
        return list(self._metrics)

    @property
    def archs(self) -> list[str]:
        """Cell strings in official index order."""
        return self._df.index.tolist()

    @property
    def cells(self) -> list[str]:
        """Cell strings in official index order (the ``BenchmarkTable`` name for :attr:`archs`)."""
        return self.archs

    @property
    def has_official_order(self) -> bool:
        return True

    def cell_at(self, index: int) -> str:
        """The cell string at an official index (``arch_at``)."""
        return self.arch_at(index)

    def direction(self, metric: str) -> str:
        """"min" for cost columns (params, FLOPs, latency, train time), "max" for accuracies."""
        self._check_metric(metric)
        costs = ("_params", "_flops", "_latency", "_train_time")
        return "min" if any(c in metric for c in costs) else "max"

    def split_metric(self, dataset: str, split: str) -> str:
        """``<dataset>_<split>_200ep``: the 200-epoch validation or test accuracy.

        Example:
            >>> load_nb201().split_metric("cifar10", "val")  # doctest: +SKIP
            'cifar10_val_200ep'
        """
        if split not in ("val", "test"):
            raise ValueError(f"split {split!r} is not allowed; use 'val' or 'test'")
        metric = f"{dataset}_{split}_200ep"
        if metric not in self._metrics:
            have = sorted({m.rsplit("_", 2)[0] for m in self._metrics if m.endswith("_200ep")})
            raise ValueError(f"the NAS-Bench-201 table has no {split} accuracy for dataset {dataset!r}; "
                             f"datasets: {', '.join(have)}")
        return metric

    @property
    def indices(self) -> list[int]:
        """Official indices, ascending (the order of :attr:`archs`)."""
        return self._df["index"].tolist()

    @property
    def frame(self) -> pd.DataFrame:
        """A copy of the table: indexed by ``arch_str``, with the ``index`` column and the metrics."""
        return self._df.copy()

    # ------------------------------------------------------------------ lookups
    def arch_at(self, index: int) -> str:
        """The cell string at an official index.

        Example:
            >>> load_nb201().arch_at(0)  # doctest: +SKIP
            '|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|'
        """
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise BenchmarkIndexError(f"index {index!r} is not an integer; use 0..{self._total - 1}.")
        i = int(index)
        if not 0 <= i < self._total:
            raise BenchmarkIndexError(f"index {i} is out of range 0..{self._total - 1}.")
        try:
            return self._arch_by_index[i]
        except KeyError:
            raise BenchmarkKeyError(
                f"index {i} has no results in {self._source} ({len(self)} of {self._total} architectures present)."
            ) from None

    def index_of(self, arch: str) -> int:
        """The official index of a cell string.

        Example:
            >>> load_nb201().index_of(load_nb201().arch_at(42))  # doctest: +SKIP
            42
        """
        try:
            return self._index_by_arch[arch]
        except (KeyError, TypeError):
            pass
        if not is_nb201_arch(arch):
            raise BenchmarkKeyError(
                f"{arch!r} is not a NAS-Bench-201 cell string; expected six 'op~input' edges like {_EXAMPLE!r} "
                f"with ops from {', '.join(NB201_OPS)}."
            )
        raise BenchmarkKeyError(f"architecture {arch!r} is not in {self._source}.")

    def _arch(self, arch_or_index: str | int) -> str:
        if isinstance(arch_or_index, str):
            self.index_of(arch_or_index)
            return arch_or_index
        return self.arch_at(arch_or_index)

    def _check_metric(self, metric: str) -> None:
        if metric not in self._metrics:
            raise BenchmarkKeyError(f"metric {metric!r} is not in the NAS-Bench-201 table; allowed: "
                                    f"{', '.join(self._metrics)}.")

    def accuracy(self, arch_or_index: str | int, metric: str) -> float:
        """One value (accuracy in %, or a cost) for a cell string or official index.

        Args:
            arch_or_index: A cell string or an official index.
            metric: One of :attr:`metrics`.

        Returns:
            The value as a Python float (NaN where the benchmark has none).

        Example:
            >>> load_nb201().accuracy(6111, "cifar10_test_200ep")  # doctest: +SKIP
            94.373333
        """
        self._check_metric(metric)
        return float(self._df.at[self._arch(arch_or_index), metric])

    def column(self, metric: str) -> pd.Series:
        """One metric for every architecture, as a Series indexed by cell string (official order).

        Example:
            >>> load_nb201().column("cifar100_test_200ep").idxmax() == load_nb201().arch_at(9930)  # doctest: +SKIP
            True
        """
        self._check_metric(metric)
        return self._df[metric].copy()

    def subset(self, archs_or_indices: Sequence[str | int]) -> NB201Table:
        """A table with only the given architectures (same total and metrics).

        Example:
            >>> len(load_nb201().subset([0, 1, 2]))  # doctest: +SKIP
            3
        """
        archs = [self._arch(a) for a in archs_or_indices]
        return NB201Table(self._df.loc[archs].reset_index(), total=self._total, source=self._source)


# ---------------------------------------------------------------------- loaders


def load_nb201(path: str | Path | None = None) -> NB201Table:
    """Load the compact NAS-Bench-201 table (CSV or Parquet), cached per path and file version.

    Args:
        path: The table; by default ``nb201/nb201_accuracies.csv`` in the data folder (see
            :func:`zcnas.data.data_dir`). Columns: ``index``, ``arch_str`` and the metrics
            (``cifar10_test_200ep``, ``cifar100_test_200ep``, ``cifar10_val_200ep``, ``cifar100_val_200ep`` and
            the ``*_12ep`` equivalents). For the official ``.pth`` / ``.pickle.pbz2`` files use
            :func:`load_nb201_official`.

    Returns:
        The :class:`NB201Table` (shared between calls: treat it as read-only).

    Example:
        >>> t = load_nb201()  # doctest: +SKIP
        >>> len(t), t.arch_at(0) == t.archs[0]  # doctest: +SKIP
        (15625, True)
    """
    if path is None:
        file = data_file(NB201_CSV, "the NAS-Bench-201 accuracy table")
    else:
        file = Path(path).expanduser()
        if not file.is_file():
            raise FileNotFoundError(f"The NAS-Bench-201 table {file} does not exist.")
    suffix = file.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise ValueError(
            f"{file} is not a .csv or .parquet table; for the official benchmark files use load_nb201_official."
        )
    stat = file.stat()
    return _load_table(str(file.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _load_table(path: str, mtime_ns: int, size: int) -> NB201Table:
    del mtime_ns, size  # cache key only
    if path.lower().endswith(".csv"):
        frame = pd.read_csv(path)
    else:
        frame = pd.read_parquet(path)
    return NB201Table(frame, total=NB201_SIZE if len(frame) == NB201_SIZE else None, source=path)


def load_nb201_official(path: str | Path) -> NB201Table:
    """Load the official NAS-Bench-201 ``.pth`` or NATS-Bench topology files into an :class:`NB201Table`.

    Reads, without the benchmark packages and without trusting the files:

    * NAS-Bench-201 v1.0 / v1.1 ``.pth`` (``torch.load(weights_only=True)``);
    * NATS-Bench topology ``NATS-tss-*.pickle.pbz2`` (one bz2 pickle) or its ``-simple`` / ``-full`` archive
      folder (``meta.pickle.pbz2`` plus one ``NNNNNN.pickle.pbz2`` per architecture), with a restricted
      unpickler (plain data, numpy scalars/arrays and ``OrderedDict`` only; stored network weights are refused,
      so use the ``-simple`` archive).

    From the 200-epoch results (``full`` / ``"200"``), averaged over seeds at the last epoch:
    ``cifar10_test_200ep`` (cifar10, ori-test), ``cifar10_val_200ep`` (cifar10-valid, x-valid),
    ``cifar100_test_200ep`` / ``cifar100_val_200ep`` (cifar100, x-test / x-valid) and
    ``imagenet16_test_200ep`` / ``imagenet16_val_200ep`` (ImageNet16-120); the same from the 12-epoch results
    (``less`` / ``"12"``) as ``*_12ep`` where present; and per dataset (``cifar10_valid``, ``cifar10``,
    ``cifar100``, ``imagenet16``) ``*_params`` (M), ``*_flops`` (M), ``*_latency`` (s) and
    ``*_train_time_200ep`` / ``*_train_time_12ep`` (s, whole training, mean over seeds). Columns that no
    architecture has are left out.

    Args:
        path: The ``.pth`` file, the ``.pickle.pbz2`` file, or the NATS archive folder.

    Returns:
        An :class:`NB201Table` whose ``total`` is the number of architectures in the file's ``meta_archs``.

    Example:
        >>> t = load_nb201_official("NAS-Bench-201-v1_1-096897.pth")  # doctest: +SKIP
        >>> t.accuracy(t.index_of(t.arch_at(0)), "cifar10_test_200ep")  # doctest: +SKIP
        85.86333...
    """
    frame, total, source = read_official(Path(path).expanduser())
    return NB201Table(frame, total=total, source=source)


register_benchmark(
    "nb201",
    space="nb201",
    loader=lambda path=None: load_nb201(path),
    description="NAS-Bench-201 accuracies of all 15,625 cells (CIFAR-10, CIFAR-100; 200 and 12 epochs)",
)
