"""The scoring engine: ``Scorer(space, settings, store).score(cells)`` computes only what the store lacks.

Each cell is one task (``zcnas.scoring.cell_task.score_cell``): build its network (init seeded from the run
seed and the cell string), draw its minibatch, compute the proxies with shared passes, and return one row per
proxy. Rows land in the store as tasks finish, so a killed run resumes where it stopped. Data-free proxies are
computed once per group of cells with the same ``space.dedup_key`` (size-only ones, params and flops, per
``space.size_key``) and copied to the others with ``shared_from`` set, unless ``dedup=False``. Nothing here
knows a space: the settings name one and the space answers.

A search calls ``Scorer.score`` cell by cell (store None: an in-memory cache); ``score_many`` and
``zcnas score`` are thin uses of it with a result folder.

Example:
    >>> import tempfile
    >>> from zcnas.scoring.runner import ScoreSettings, score_many
    >>> settings = ScoreSettings(proxies=("params",), data_source="synthetic", batch_size=2,
    ...                          space_options={"channels": 4, "cells_per_stage": 1})
    >>> cells = ["|none~0|+|none~0|none~1|+|none~0|none~1|nor_conv_1x1~2|"]
    >>> summary = score_many(cells, settings, tempfile.mkdtemp(), quiet=True)
    >>> summary.computed, summary.errors
    (1, 0)
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd
import torch
from tqdm.auto import tqdm

from zcnas.proxies.registry import get_proxy
from zcnas.scoring.cell_task import Task, build_cell_model, cell_batch, result_row, score_cell
from zcnas.scoring.executors import BACKENDS, Executor, TaskFailed, available_cpus, make_executor
from zcnas.scoring.memory_store import MemoryStore
from zcnas.scoring.settings import ScoreSettings, check_int
from zcnas.scoring.store import CONFIG_NAME, ResultStore, StoreError
from zcnas.spaces import get_space
from zcnas.spaces.base import SearchSpace, encode_all

__all__ = [
    "ScoreSettings",
    "ScoreSummary",
    "Scorer",
    "build_cell_model",
    "cell_batch",
    "default_threads",
    "plan_tasks",
    "score_cell",
    "score_many",
]

#: Settings keys a resumed folder may change: the proxy list grows, and a folder made before the thread count
#: was recorded adopts it (a recorded count that differs is refused, see ``Scorer``).
_MAY_CHANGE = ("proxies", "torch_threads")


@dataclass
class ScoreSummary:
    """What a scoring call did."""

    archs: int = 0
    computed: int = 0
    skipped: int = 0
    shared: int = 0
    ok: int = 0
    nan: int = 0
    errors: int = 0
    seconds: float = 0.0
    error_messages: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.archs} architectures: {self.computed} scored, {self.skipped} already done, "
            f"{self.shared} shared from isomorphic cells; rows ok {self.ok}, nan {self.nan}, errors {self.errors}; "
            f"{self.seconds:.1f} s"
        )


def default_threads(backend: str, workers: int | None) -> int:
    """Intra-op threads per cell when none are asked: this process's count inline, an equal share of the
    CPUs per process worker, one per Ray task."""
    if backend == "inline":
        return torch.get_num_threads()
    if backend == "process":
        return max(1, available_cpus() // (workers or available_cpus()))
    return 1


def _group_key(space: SearchSpace, cell: str, proxy: str) -> str | None:
    """Cells with equal keys share the proxy's score: ``size_key`` for size-only proxies, ``dedup_key`` for
    other data-free ones, None (no sharing) for proxies that read the data."""
    spec = get_proxy(proxy)
    if not spec.data_free:
        return None
    return space.size_key(cell) if spec.size_only else space.dedup_key(cell)


def plan_tasks(
    cells: Sequence[str], settings: ScoreSettings, done: set[tuple[str, str, int]], dedup: bool,
    space: SearchSpace | None = None,
) -> tuple[list[Task], dict[tuple[str, str], list[str]]]:
    """Which proxies each cell still needs, and which finished rows to copy where.

    Returns ``(tasks, followers)``: ``followers[(source_cell, proxy)]`` lists cells that take the source's
    data-free value once it exists.
    """
    space = space or settings.space_obj
    seed = settings.seed
    followers: dict[tuple[str, str], list[str]] = {}
    source_of: dict[tuple[str, str], str] = {}  # (group key, proxy) -> cell that computes or computed it
    shareable = [p for p in settings.proxies if get_proxy(p).data_free] if dedup else []
    for cell in cells:  # a group member already done is the source for the rest of its group
        for p in shareable:
            key = _group_key(space, cell, p)
            if key is not None and (cell, p, seed) in done:
                source_of.setdefault((key, p), cell)
    tasks = []
    for cell in cells:
        needed = []
        for p in settings.proxies:
            if (cell, p, seed) in done:
                continue
            key = _group_key(space, cell, p) if p in shareable else None
            if key is not None:
                source = source_of.setdefault((key, p), cell)
                if source != cell:
                    followers.setdefault((source, p), []).append(cell)
                    continue
            needed.append(p)
        if needed:
            tasks.append((cell, tuple(needed), settings))
    return tasks, followers


def _recorded_config(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class Scorer:
    """Scores cells of a space into a store, computing only what the store lacks.

    Args:
        space: a registered space name or a ``SearchSpace``; must be the one ``settings`` name.
        settings: what decides the scores. When ``settings.torch_threads`` is None it is set from the backend
            (``default_threads``) and recorded; a folder that recorded another count is refused.
        store: a result folder (path; created or resumed, refused when made with other settings), an open
            ``ResultStore``, or None for an in-memory cache.
        backend / workers / address: the executor ("inline", "process", "ray"), created on first use and kept
            for every ``score`` call until ``close``.
        dedup: share data-free scores between cells with equal sharing keys.
        quiet: no progress bar.
        flush_every: rows buffered before a part is written (1: a part per cell).

    Example:
        >>> s = ScoreSettings(proxies=("params", "synflow"), data_source="synthetic", batch_size=2,
        ...                   space_options={"channels": 4, "cells_per_stage": 1})
        >>> with Scorer("nb201", s) as scorer:
        ...     table = scorer.score(["|none~0|+|none~0|none~1|+|none~0|none~1|nor_conv_1x1~2|"])
        >>> list(table.columns), table.shape
        (['params', 'synflow'], (1, 2))
    """

    def __init__(
        self,
        space: str | SearchSpace,
        settings: ScoreSettings,
        store: str | os.PathLike[str] | ResultStore | MemoryStore | None = None,
        *,
        backend: str = "inline",
        workers: int | None = None,
        address: str | None = None,
        dedup: bool = True,
        quiet: bool = True,
        flush_every: int = 1,
    ) -> None:
        self.space = get_space(space)
        if not isinstance(settings, ScoreSettings):
            raise TypeError(f"settings must be a ScoreSettings, not {type(settings).__name__}")
        if settings.space != self.space.name:
            raise ValueError(f"settings are for space {settings.space!r}, not {self.space.name!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend={backend!r} is not allowed; use one of: {', '.join(BACKENDS)}")
        if workers is not None:
            workers = check_int("workers", workers, 1)
        flush_every = check_int("flush_every", flush_every, 1)
        if settings.torch_threads is None:
            settings = settings.replace(torch_threads=default_threads(backend, workers))
        self.settings = settings
        self.backend, self.workers, self.address = backend, workers, address
        self.dedup, self.quiet = bool(dedup), bool(quiet)
        self.totals = ScoreSummary()
        self._executor: Executor | None = None
        self._owns_store = not isinstance(store, (ResultStore, MemoryStore))
        self.store = self._open_store(store, flush_every)
        self._values: dict[tuple[str, str], float] = {}
        rows = self.store.rows()
        for cell, proxy, seed, value in zip(rows["arch"], rows["proxy"], rows["seed"], rows["value"]):
            if seed == settings.seed:
                self._values[(cell, proxy)] = float(value)

    def _open_store(self, store: Any, flush_every: int) -> ResultStore | MemoryStore:
        config = self.settings.store_config()
        if store is None:
            return MemoryStore(config)
        if isinstance(store, (ResultStore, MemoryStore)):
            return store
        folder = Path(store)
        old = _recorded_config(folder)
        if old is not None and "torch_threads" in old and old["torch_threads"] != self.settings.torch_threads:
            raise StoreError(
                f"output folder {folder} was made with torch_threads={old['torch_threads']}, not "
                f"{self.settings.torch_threads} (the thread count changes float summation); score with "
                f"torch_threads={old['torch_threads']} or into another folder"
            )
        return ResultStore(folder, config, ignore_keys=_MAY_CHANGE, flush_every=flush_every)

    # ------------------------------------------------------------------ scoring
    def score(self, cells: Iterable[Any]) -> pd.DataFrame:
        """Scores of ``cells`` (computed where missing): index cell strings in the given order (duplicates
        dropped), one float column per proxy, NaN where a score is undefined or failed."""
        keys = encode_all(self.space, list(cells))
        self.run(keys)
        return pd.DataFrame(
            {p: [self._values.get((c, p), math.nan) for c in keys] for p in self.settings.proxies},
            index=pd.Index(keys, name="arch"),
        )

    def run(self, cells: Iterable[Any]) -> ScoreSummary:
        """Compute and store what is missing for ``cells``; return what this call did."""
        start = time.perf_counter()
        keys = encode_all(self.space, list(cells))
        seed = self.settings.seed
        summary = ScoreSummary(archs=len(keys))
        done = self.store.done_keys()
        tasks, followers = plan_tasks(keys, self.settings, done, self.dedup, self.space)
        summary.skipped = sum(1 for c in keys if all((c, p, seed) in done for p in self.settings.proxies))

        def record(rows: list[dict[str, Any]]) -> None:
            for row in rows:
                summary.ok += row["status"] == "ok"
                summary.nan += row["status"] == "nan"
                summary.errors += row["status"] == "error"
                if row["status"] == "error" and len(summary.error_messages) < 20:
                    summary.error_messages.append(f"{row['arch']} {row['proxy']}: {row['reason']}")
            self.store.append(rows)
            for row in rows:
                self._values[(row["arch"], row["proxy"])] = row["value"]

        def share(source: dict[str, Any]) -> list[dict[str, Any]]:
            """Copies of a finished data-free row for the cells that wait on it."""
            if source["status"] == "error":
                return []
            copies = [{**source, "arch": cell, "seconds": 0.0, "shared_from": source["arch"]}
                      for cell in followers.pop((source["arch"], source["proxy"]), ())]
            summary.shared += len(copies)
            return copies

        ready = [key for key in followers if (key[0], key[1], seed) in done]
        if ready:  # sources finished earlier: copy their rows to the followers now
            finished = self.store.rows()
            finished = finished[finished["seed"] == seed].set_index(["arch", "proxy"])
            for cell, proxy in ready:
                row = finished.loc[(cell, proxy)]
                record(share(result_row(cell, proxy, seed, row["value"], row["status"], row["reason"], 0.0)))

        if tasks:
            bar = tqdm(total=len(tasks), unit="arch", disable=self.quiet, smoothing=0.05, dynamic_ncols=True)
            try:
                for task, result in self._executor_now().map_unordered(score_cell, tasks):
                    if isinstance(result, TaskFailed):
                        cell, proxies, _ = task
                        result = [result_row(cell, p, seed, math.nan, "error", result.message, 0.0) for p in proxies]
                    record(result + [copy for row in result for copy in share(row)])
                    summary.computed += 1
                    bar.update(1)
            finally:
                bar.close()
        self.store.flush()
        summary.seconds = time.perf_counter() - start
        self._add_to_totals(summary)
        return summary

    def _add_to_totals(self, summary: ScoreSummary) -> None:
        t = self.totals
        for name in ("archs", "computed", "skipped", "shared", "ok", "nan", "errors", "seconds"):
            setattr(t, name, getattr(t, name) + getattr(summary, name))
        t.error_messages.extend(summary.error_messages[: max(0, 20 - len(t.error_messages))])

    def _executor_now(self) -> Executor:
        if self._executor is None:
            self._executor = make_executor(
                self.backend, workers=self.workers, address=self.address,
                threads_per_worker=self.settings.torch_threads if self.backend == "process" else None,
            )
        return self._executor

    def compact(self) -> str | None:
        """Merge the folder's parts into one; on a write failure (a full disk) keep the parts and return a note
        saying so (every row is already safe), else None."""
        if not isinstance(self.store, ResultStore) or len(self.store.parts) <= 1:
            return None
        try:
            self.store.compact()
        except StoreError as exc:
            return (f"the result parts were not merged ({exc}); every row is kept in {len(self.store.parts)} "
                    "parts, and a later run merges them")
        return None

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Release the executor and, when this scorer opened it, the store (buffered rows are written)."""
        try:
            if self._executor is not None:
                self._executor.close()
                self._executor = None
        finally:
            if self._owns_store:
                self.store.close()

    def __enter__(self) -> Scorer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def score_many(
    archs: Iterable[Any],
    settings: ScoreSettings,
    out: str | os.PathLike[str],
    *,
    backend: str = "inline",
    workers: int | None = None,
    address: str | None = None,
    dedup: bool = True,
    quiet: bool = False,
    flush_every: int = 1,
) -> ScoreSummary:
    """Score cells of ``settings.space`` into the result folder ``out``; rerunning the same call resumes.

    Args:
        archs: cells of the space (their strings, or anything the space's ``encode`` accepts).
        settings: what decides the scores; a folder made with other settings is refused naming the keys.
        out: the result folder (Parquet parts + config.json).
        backend: "inline", "process" (``workers`` local processes) or "ray" (``address`` or a local instance).
        dedup: share data-free scores between cells with equal sharing keys.
        quiet: no progress bar.
        flush_every: rows buffered before a part is written (1: a part per cell).

    Returns:
        A ``ScoreSummary``: done, skipped, shared, NaN and error counts, seconds, and notes (e.g. a merge of
        the parts that a full disk prevented).
    """
    start = time.perf_counter()
    with Scorer(settings.space, settings, out, backend=backend, workers=workers, address=address, dedup=dedup,
                quiet=quiet, flush_every=flush_every) as scorer:
        summary = scorer.run(archs)
        note = scorer.compact()  # one Parquet file per finished run
        if note:
            summary.notes.append(note)
    summary.seconds = time.perf_counter() - start
    return summary
