"""An in-memory stand-in for ``ResultStore``: the same rows and rules (last write wins, error rows retried),
nothing on disk. A search that scores cells one by one without an output folder uses it as its cache.

Example:
    >>> store = MemoryStore({"space": "nb201"})
    >>> store.append([{"arch": "a", "proxy": "synflow", "seed": 0, "value": 2.0, "status": "ok"}])
    >>> sorted(store.done_keys()), store.rows()["value"].tolist()
    ([('a', 'synflow', 0)], [2.0])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from zcnas.scoring.store import COLUMNS, KEY_COLUMNS, ResultStore

__all__ = ["MemoryStore"]

Key = tuple[str, str, int]


class MemoryStore:
    """Rows keyed by ``(arch, proxy, seed)`` held in a dict; validated like ``ResultStore`` rows."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config = dict(config or {})
        self._rows: dict[Key, dict[str, Any]] = {}

    def append(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Add rows (a later row for the same key replaces the earlier one)."""
        for row in rows:
            checked = ResultStore._validate(row)
            self._rows[(checked["arch"], checked["proxy"], checked["seed"])] = checked

    def done_keys(self, include_errors: bool = False) -> set[Key]:
        """Keys whose latest row is final ("ok" or "nan"; "error" too with ``include_errors``)."""
        return {k for k, r in self._rows.items() if include_errors or r["status"] != "error"}

    def rows(self) -> pd.DataFrame:
        """Every row, sorted by key, with the store's columns."""
        frame = pd.DataFrame([self._rows[k] for k in sorted(self._rows)], columns=list(COLUMNS))
        return frame.astype({"seed": "int64", "value": "float64", "seconds": "float64"})

    def value(self, key: Key) -> float:
        """The value of one key (NaN when it is missing or not "ok")."""
        row = self._rows.get(key)
        return math.nan if row is None else float(row["value"])

    def flush(self) -> None:
        """Nothing to write."""

    def compact(self) -> None:
        """Nothing to merge."""

    def close(self) -> None:
        """Nothing to release."""

    @property
    def parts(self) -> list:
        return []

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"MemoryStore(rows={len(self._rows)}, key={KEY_COLUMNS})"
