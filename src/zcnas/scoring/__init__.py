"""zcnas.scoring: the scoring engine (``Scorer``), its settings, the resumable result store and executors
(in-process, processes, Ray).

Example:
    >>> from zcnas.scoring import ResultStore, Scorer, ScoreSettings, make_executor
    >>> make_executor("inline")
    InlineExecutor()
"""

from __future__ import annotations

from typing import Any

_STORE_NAMES = ("COLUMNS", "KEY_COLUMNS", "SCHEMA", "STATUSES", "ResultStore", "StoreError")
_EXECUTOR_NAMES = (
    "BACKENDS",
    "Executor",
    "InlineExecutor",
    "ProcessExecutor",
    "RayExecutor",
    "TaskFailed",
    "available_cpus",
    "make_executor",
)

_RUNNER_NAMES = ("ScoreSettings", "ScoreSummary", "Scorer", "score_many")

__all__ = [*_STORE_NAMES, *_EXECUTOR_NAMES, *_RUNNER_NAMES, "MemoryStore"]


def __getattr__(name: str) -> Any:
    # Lazy re-exports: importing zcnas.scoring loads neither pyarrow nor pandas until a name is used.
    if name in _STORE_NAMES:
        from zcnas.scoring import store

        return getattr(store, name)
    if name in _EXECUTOR_NAMES:
        from zcnas.scoring import executors

        return getattr(executors, name)
    if name in _RUNNER_NAMES:
        from zcnas.scoring import runner

        return getattr(runner, name)
    if name == "MemoryStore":
        from zcnas.scoring.memory_store import MemoryStore

        return MemoryStore
    raise AttributeError(f"module 'zcnas.scoring' has no attribute {name!r}")
