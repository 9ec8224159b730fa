"""zcnas.scoring: score many architectures into a resumable result store, in-process, in processes or on Ray.

Example:
    >>> from zcnas.scoring import ResultStore, make_executor
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

__all__ = [*_STORE_NAMES, *_EXECUTOR_NAMES]


def __getattr__(name: str) -> Any:
    # Lazy re-exports: importing zcnas.scoring loads neither pyarrow nor pandas until a name is used.
    if name in _STORE_NAMES:
        from zcnas.scoring import store

        return getattr(store, name)
    if name in _EXECUTOR_NAMES:
        from zcnas.scoring import executors

        return getattr(executors, name)
    raise AttributeError(f"module 'zcnas.scoring' has no attribute {name!r}")
