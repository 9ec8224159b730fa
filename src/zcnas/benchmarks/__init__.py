"""zcnas.benchmarks: ground-truth tables (cell -> trained metric, with the metric's direction) and their registry.

``get_benchmark(name)`` loads a registered table (``list_benchmarks()``); every table implements the
``BenchmarkTable`` protocol of ``zcnas.benchmarks.base``.

Example:
    >>> from zcnas.benchmarks import load_nb201
    >>> table = load_nb201()  # doctest: +SKIP
    >>> table.accuracy(6111, "cifar10_test_200ep")  # doctest: +SKIP
    94.373333
"""

from __future__ import annotations

from zcnas.benchmarks.base import (
    BenchmarkTable,
    FrameTable,
    benchmark_info,
    get_benchmark,
    list_benchmarks,
    register_benchmark,
    unregister_benchmark,
)
from zcnas.benchmarks.nb201 import (
    NB201_CSV,
    NB201_OPS,
    NB201_SIZE,
    BenchmarkIndexError,
    BenchmarkKeyError,
    NB201Table,
    is_nb201_arch,
    load_nb201,
    load_nb201_official,
)

__all__ = [
    "BenchmarkTable",
    "FrameTable",
    "benchmark_info",
    "get_benchmark",
    "list_benchmarks",
    "register_benchmark",
    "unregister_benchmark",
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
