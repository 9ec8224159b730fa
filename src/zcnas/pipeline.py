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
from zcnas.report.search_figure import write_search_report
from zcnas.scoring.runner import ScoreSettings, ScoreSummary, score_many
from zcnas.scoring.settings import MAX_SEED, check_int
from zcnas.scoring.store import ResultStore
from zcnas.search.base import get_searcher
from zcnas.search.proxy_source import (
    ComputedSource,
    TableSource,
    find_score_table,
    load_score_table,
    scorer_source,
)
from zcnas.search.study import LEVELS, run_search, summarise, variant_for
from zcnas.search.study import paper_variants as figure_variants
from zcnas.search.trainer import TabularTrainer
from zcnas.spaces import get_space
from zcnas.spaces.base import SearchSpace

__all__ = ["CorrelationResult", "SearchResult", "correlate", "ground_truth", "read_cell_file", "score", "search",
           "select_cells"]


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


def _lazy_scorer(space: SearchSpace, dataset: str, proxy: str, store: Path) -> ComputedSource:
    """A scorer source opened on first use: a score table that covers every cell asked for never opens it."""
    opened: list[ComputedSource] = []

    def score_fn(cells: list[str]) -> list[float]:
        if not opened:
            opened.append(scorer_source(space, dataset, proxy, store))
        return opened[0].scores(cells).tolist()

    return ComputedSource(score_fn, proxy)


@dataclass
class SearchResult:
    """A finished ``search``: the trajectories, their summary table and the report's path."""

    trajectories: pd.DataFrame
    summary: pd.DataFrame
    report: Path


def search(
    out: str | os.PathLike[str],
    *,
    space: str = "nb201",
    dataset: str = "cifar100",
    algos: Sequence[str] = ("evolution",),
    warmup: int = 0,
    move: bool = False,
    candidates: int = 10,
    paper_variants: bool = False,
    proxy: str | None = "synflow",
    scores: str | os.PathLike[str] | None = None,
    score_roots: Sequence[str | os.PathLike[str]] = ("results",),
    budget: int = 300,
    seeds: int | Sequence[int] = 10,
    options: dict[str, dict[str, Any]] | None = None,
    benchmark: str | None = None,
    benchmark_file: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> SearchResult:
    """Tabular NAS on a space's benchmark: run the searches, write ``trajectories.parquet`` and a report.

    Args:
        out: the study folder (resumable: finished runs are kept and skipped).
        space, dataset: the space and the dataset whose validation / test accuracies the search reads.
        algos: registered search algorithms (``zcnas.search.base.list_searchers``).
        warmup, move: the one variant to run (``paper_variants=True`` runs the paper figure's variants instead);
            ``candidates`` is the sample count of a count-kind move proposal (REINFORCE).
        proxy: the proxy for warmup and move; its scores come from ``scores`` (a result folder), else the
            result folder under ``score_roots`` made for this space, dataset and proxy, else are computed on
            the fly with the scoring engine (cached under ``out/proxy_scores``).
        budget: trained models per search; seeds: a count (0..n-1) or the seeds themselves.

    Raises:
        ValueError: an unknown algo, dataset or proxy, a budget below a warmup's trained models, a bad seed.
    """
    the_space = get_space(space)
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        seed_list = list(range(check_int("seeds", seeds, 1)))
    else:
        seed_list = [check_int("seed", s, 0, MAX_SEED) for s in seeds]
    runs = []
    for algo in algos:
        kind = get_searcher(algo).move_kind
        move_value = (candidates if kind == "count" else True) if move else None
        variants = figure_variants(algo) if paper_variants else [variant_for(algo, warmup, move_value)]
        runs.extend((algo, v) for v in variants)
    table = ground_truth(the_space, benchmark, benchmark_file)
    if dataset not in table.datasets():
        raise ValueError(f"dataset {dataset!r} has no validation and test accuracies in the {table.space} "
                         f"benchmark; use one of: {', '.join(table.datasets())}")
    trainer = TabularTrainer(table, dataset)
    needs_proxy = any(v.warmup or v.move for _, v in runs)
    source = None
    if needs_proxy:
        if proxy is None:
            raise ValueError("warmup and move need a proxy; pass proxy=...")
        folder = Path(scores) if scores is not None else find_score_table(the_space, dataset, proxy, score_roots)
        if folder is not None:
            fallback = _lazy_scorer(the_space, dataset, proxy, Path(out) / "proxy_scores") \
                if proxy in list_proxies() else None
            source = TableSource(load_score_table(folder, proxy, the_space, dataset), proxy, fallback=fallback)
        elif proxy in list_proxies():
            source = scorer_source(the_space, dataset, proxy, Path(out) / "proxy_scores")
        else:
            raise ValueError(f"proxy {proxy!r} has no score table for {space} {dataset} under "
                             f"{', '.join(map(str, score_roots))} and is not a registered proxy, so it cannot be "
                             f"computed; use a registered proxy ({', '.join(list_proxies())}) or pass scores=FOLDER")
    trajectories = run_search(the_space, trainer, runs, seeds=seed_list, budget=budget, out=out, dataset=dataset,
                              proxy=source, options=options, progress=progress)
    summary = summarise(trajectories, levels=LEVELS.get(dataset, ()),
                        milestones=[m for m in (10, 25, 50, 100, 300) if m <= budget])
    report = write_search_report(trajectories, summary, Path(out), dataset)
    return SearchResult(trajectories, summary, report)
