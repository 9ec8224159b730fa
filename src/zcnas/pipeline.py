"""The main jobs end to end, as the ``zcnas`` command runs them: choose cells, score them, correlate a run.

These functions are where a result folder and a ground-truth table meet: they load the store and the
benchmark, call evaluation, and hand tables to the report. The CLI is a thin layer over them; so is
``zcnas.score`` / ``zcnas.correlate``. Nothing here names a space: the run's settings do.

Example:
    >>> import tempfile, zcnas
    >>> out = tempfile.mkdtemp()
    >>> summary = zcnas.score(out, sample=3, seed=0, proxies=["params"], data_source="synthetic", batch_size=2,
    ...                       space_options={"channels": 4, "cells_per_stage": 1}, quiet=True)
    >>> summary.computed
    3
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zcnas.benchmarks.base import BenchmarkTable, get_benchmark
from zcnas.evaluation.summary import correlation_summary
from zcnas.proxies.registry import get_proxy, list_proxies
from zcnas.report.correlation import write_correlation_report
from zcnas.report.markdown import markdown_table
from zcnas.scoring.runner import ScoreSettings, ScoreSummary, score_many
from zcnas.scoring.settings import MAX_SEED, check_int
from zcnas.scoring.store import ResultStore
from zcnas.spaces import get_space
from zcnas.spaces.base import SearchSpace

__all__ = ["CorrelationResult", "correlate", "ground_truth", "read_cell_file", "score", "select_cells"]


def ground_truth(space: str | SearchSpace, benchmark: str | None = None, path: Any = None) -> BenchmarkTable:
    """The ground-truth table of a space: ``benchmark`` by name, else the space's own (``space.benchmark``)."""
    space = get_space(space)
    name = benchmark or space.benchmark
    if name is None:
        raise ValueError(f"space {space.name!r} has no ground-truth table; pass benchmark=<a registered name>")
    table = get_benchmark(name, path)
    if table.space != space.name:
        raise ValueError(f"benchmark {name!r} holds cells of space {table.space!r}, not {space.name!r}")
    return table


def read_cell_file(path: str | os.PathLike[str], space: str | SearchSpace) -> list[str]:
    """Cells listed in a file, one per line: the space's cell string, or an official index of its benchmark.

    Blank lines and lines starting with '#' are skipped; a bad line raises ValueError naming the file and line.
    """
    space = get_space(space)
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"cell file {path} does not exist")
    table: BenchmarkTable | None = None
    cells = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            if line.lstrip("-").isdigit():
                if table is None:
                    table = ground_truth(space)
                    if not table.has_official_order:
                        raise ValueError(f"the {space.name} benchmark has no official index order; write cells")
                cells.append(space.encode(table.cell_at(int(line))))
            else:
                cells.append(space.parse(line))
        except (ValueError, KeyError, IndexError) as exc:
            raise ValueError(f"{path}:{number}: {str(exc).strip(chr(34) + chr(39))}") from None
    if not cells:
        raise ValueError(f"cell file {path} lists no cells")
    return cells


def select_cells(
    space: str | SearchSpace,
    *,
    all_cells: bool = False,
    sample: int | None = None,
    cells_file: str | os.PathLike[str] | None = None,
    cells: Sequence[Any] | None = None,
    seed: int = 0,
) -> list[str]:
    """The cells to score: every cell, a seeded uniform sample, a file of cells, or the cells given.

    Exactly one way must be chosen. ``all_cells`` on a space that cannot enumerate raises ValueError.
    """
    space = get_space(space)
    chosen = sum([bool(all_cells), sample is not None, cells_file is not None, cells is not None])
    if chosen != 1:
        raise ValueError("choose exactly one of all_cells=True, sample=N, cells_file=PATH and cells=[...]")
    if cells is not None:
        return [space.encode(c) for c in cells]
    if all_cells:
        try:
            return [space.encode(c) for c in space.cells()]
        except NotImplementedError as exc:
            raise ValueError(str(exc)) from None
    if sample is not None:
        size = space.size
        upper = size if size is not None else None
        sample = check_int("sample", sample, 1, upper)
        seed = check_int("seed", seed, 0, MAX_SEED)
        return [space.encode(c) for c in space.sample(sample, np.random.default_rng(seed))]
    return read_cell_file(cells_file, space)  # type: ignore[arg-type]


def score(
    out: str | os.PathLike[str],
    cells: Sequence[Any] | None = None,
    *,
    space: str = "nb201",
    all_cells: bool = False,
    sample: int | None = None,
    cells_file: str | os.PathLike[str] | None = None,
    seed: int = 0,
    proxies: Sequence[str] | str | None = None,
    backend: str = "inline",
    workers: int | None = None,
    address: str | None = None,
    threads: int | None = None,
    dedup: bool = True,
    quiet: bool = False,
    **settings: Any,
) -> ScoreSummary:
    """Score cells of a space into the result folder ``out`` (resumable): ``zcnas score`` as a function.

    Args:
        out: the result folder.
        cells / all_cells / sample / cells_file: which cells (exactly one; see ``select_cells``).
        space: a registered space.
        seed: the run seed (the sample, each cell's init and minibatch).
        proxies: names, a comma-separated string, "all", or None for the paper's six.
        backend / workers / address: where cells are scored ("inline", "process", "ray").
        threads: intra-op torch threads per cell (default: see ``zcnas.scoring.runner.default_threads``).
        dedup: share data-free scores between cells with equal sharing keys.
        quiet: no progress bar.
        settings: the other ``ScoreSettings`` fields (dataset, data_source, batch_size, batch_mode, augment,
            dtype, space_options, options).

    Returns:
        The run's ``ScoreSummary``.
    """
    if isinstance(proxies, str):
        proxies = [p.strip() for p in proxies.split(",") if p.strip()] if proxies != "all" else list_proxies()
    score_settings = ScoreSettings(proxies=tuple(proxies or ()), space=space, seed=seed, torch_threads=threads,
                                   **settings)
    chosen = select_cells(space, all_cells=all_cells, sample=sample, cells_file=cells_file, cells=cells, seed=seed)
    return score_many(chosen, score_settings, out, backend=backend, workers=workers, address=address, dedup=dedup,
                      quiet=quiet)


@dataclass(frozen=True)
class CorrelationResult:
    """What ``correlate`` produced: the report's path, the summary table and its Markdown."""

    path: Path
    table: pd.DataFrame
    markdown: str


def correlate(
    run: str | os.PathLike[str],
    target: str | None = None,
    *,
    benchmark: str | None = None,
    benchmark_file: str | os.PathLike[str] | None = None,
    report_dir: str | os.PathLike[str] | None = None,
    title: str | None = None,
    spread_size: int | None = None,
) -> CorrelationResult:
    """Rank-correlate a result folder with its space's ground truth and write the report.

    Args:
        run: a result folder written by ``zcnas score``.
        target: the benchmark metric; default the test metric of the run's dataset (``split_metric``).
        benchmark: a registered benchmark name; default the run's space's own.
        benchmark_file: read the benchmark from this file instead of its default data file.
        report_dir: where the report goes (default ``RUN/report``).
        title: the report title.
        spread_size: add ``spearman_sd``, the bootstrap SD of Spearman on that many cells.

    Returns:
        A ``CorrelationResult`` (report path, summary table, Markdown).

    Raises:
        ValueError: no store at ``run``, an unknown target (the message lists the metrics), a bad argument.
    """
    if spread_size is not None:
        spread_size = check_int("spread_size", spread_size, 3)
    store = ResultStore(run, read_only=True)
    values, seconds, config = store.pivot("value"), store.pivot("seconds"), dict(store.config)
    table = ground_truth(config.get("space", "nb201"), benchmark, benchmark_file)
    if target is None:
        target = table.split_metric(config.get("dataset", ""), "test")
    if target not in table.metrics:
        raise ValueError(f"target {target!r} is not in the {table.space} benchmark table; available: "
                         f"{', '.join(table.metrics)}")
    targets = table.column(target)
    registered = set(list_proxies())
    directions = {p: get_proxy(p).higher_is_better for p in values.columns if p in registered}
    summary = correlation_summary(values, seconds, targets, spread_size=spread_size, higher_is_better=directions,
                                  target_higher_is_better=table.higher_is_better(target))
    keys = ("space", "dataset", "data_source", "batch_size", "batch_mode", "augment", "seed")
    options = {k: v for k, v in config.items() if k in get_space(config.get("space", "nb201")).check_options()}
    settings_line = ", ".join(f"{k}={config[k]}" for k in keys if k in config)
    if options:
        settings_line += ", " + ", ".join(f"{k}={v}" for k, v in options.items())
    out = Path(report_dir) if report_dir is not None else Path(run) / "report"
    path = write_correlation_report(summary, values, targets, out, target_name=target,
                                    title=title or f"Correlation report: {Path(run).name}",
                                    settings_line=settings_line)
    return CorrelationResult(path, summary, markdown_table(summary))
