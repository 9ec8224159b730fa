"""NAS-Bench-101 ground truth: the 400-cell JSON table, or the official ``nasbench_*.tfrecord`` when a user has it.

Rows are keyed by the space's canonical cell string (``zcnas.spaces.nb101.to_string``), so any isomorphic
form of a cell finds its row, and ``by_hash`` finds a row by the benchmark's graph hash.

- ``nb101/nb101_400_cells.json`` (the default; NAS-Bench-Suite-Zero's sample): 400 rows holding 237 distinct
  cells (NASLib's sampler draws raw 7x7 specs, and many prune to the same cell: one cell fills 46 rows).
  Each row's ``val_accuracy`` is one of the benchmark's three 108-epoch training runs, so the rows of one
  cell can differ; the table averages them (``cifar10_val_108ep``, in %). ``params`` and ``flops`` are the
  first row's (the rows of a cell agree except where their vertex orders split a cell's channels
  differently). ``third_party()`` gives the file's proxy scores, averaged
  per cell the same way; ``row_counts()`` how many rows each cell had.
- The official file: per cell and epoch budget E, the mean over its runs of the final validation and test
  accuracy (``cifar10_val_{E}ep``, ``cifar10_test_{E}ep``, in %) and training time (``train_time_{E}ep``,
  seconds), and ``params`` (trainable parameters). Reading the 499 MB ``nasbench_only108.tfrecord`` takes
  minutes in pure Python; ``convert_official`` writes it once to a Parquet file that ``load_nb101`` reads
  in seconds.

Example:
    >>> from zcnas.benchmarks import get_benchmark
    >>> table = get_benchmark("nb101")                               # doctest: +SKIP
    >>> len(table), table.split_metric("cifar10", "val")              # doctest: +SKIP
    (237, 'cifar10_val_108ep')
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zcnas.benchmarks._tfrecord import read_nasbench_records
from zcnas.benchmarks.base import FrameTable, register_benchmark
from zcnas.data.paths import data_file
from zcnas.spaces import nb101 as space

__all__ = ["NB101_JSON", "NB101Table", "convert_official", "load_nb101", "load_nb101_official", "load_nb101_json"]

#: The 400-cell table, relative to the data folder.
NB101_JSON = "nb101/nb101_400_cells.json"

_COSTS = ("params", "flops", "train_time")


class NB101Table(FrameTable):
    """A ``BenchmarkTable`` of NAS-Bench-101 cells, indexed by canonical cell string.

    Args:
        frame: index = canonical cell strings; metric columns; an optional ``hash`` column.
        third_party: optional per-cell third-party proxy scores (same index).
        row_counts: optional rows of the source file per cell.
        source: where the table came from, for messages.

    Example:
        >>> t = NB101Table(pd.DataFrame({"cifar10_val_108ep": [90.0]}, index=["3/10-1"]))
        >>> t.accuracy("3/10-1", "cifar10_val_108ep"), t.direction("cifar10_val_108ep")
        (90.0, 'max')
    """

    def __init__(self, frame: pd.DataFrame, *, third_party: pd.DataFrame | None = None,
                 row_counts: pd.Series | None = None, source: str = "a table") -> None:
        frame = frame.copy()
        hashes = frame.pop("hash") if "hash" in frame.columns else None
        directions = {m: "min" for m in frame.columns if any(m.startswith(c) for c in _COSTS)}
        super().__init__(frame, space="nb101", directions=directions)  # type: ignore[arg-type]
        self._hashes = hashes
        self._by_hash = None if hashes is None else dict(zip(hashes, frame.index))
        self._third_party = third_party.copy() if third_party is not None else pd.DataFrame(index=frame.index)
        self._row_counts = row_counts.copy() if row_counts is not None else pd.Series(1, index=frame.index)
        self.source = source

    def __repr__(self) -> str:
        return f"NB101Table({len(self)} cells, metrics={self.metrics}, from {self.source})"

    def _key(self, cell: Any) -> str:
        try:
            return space.to_string(cell)
        except ValueError as exc:
            raise KeyError(str(exc)) from None

    def accuracy(self, cell: Any, metric: str) -> float:
        """The value of ``metric`` for ``cell`` (any form of it: string, ``NB101Cell``, (matrix, ops))."""
        return super().accuracy(self._key(cell), metric)

    def __contains__(self, cell: object) -> bool:
        try:
            return super().__contains__(self._key(cell))
        except KeyError:
            return False

    def by_hash(self, module_hash: str) -> str:
        """The cell string of a graph hash (computed when the table has no hash column)."""
        if self._by_hash is None:
            self._by_hash = {space.graph_hash(c): c for c in self.cells}
        if module_hash not in self._by_hash:
            raise KeyError(f"graph hash {module_hash!r} is not in the NAS-Bench-101 table ({self.source})")
        return self._by_hash[module_hash]

    def third_party(self) -> pd.DataFrame:
        """Third-party proxy scores per cell (the 400-cell file's own; empty for the official file)."""
        return self._third_party.copy()

    def row_counts(self) -> pd.Series:
        """How many rows of the source file each cell had."""
        return self._row_counts.copy()


# ---------------------------------------------------------------------- the 400-cell JSON


def load_nb101_json(path: str | Path) -> NB101Table:
    """The NAS-Bench-Suite-Zero JSON layout (``matrix``, ``ops``, ``val_accuracy``, ...), one row per cell."""
    path = Path(path)
    rows = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{path} is not a JSON list of NAS-Bench-101 cells")
    records = []
    third: list[dict[str, float]] = []
    for k, row in enumerate(rows):
        try:
            cell = space.to_string(row)
        except ValueError as exc:
            raise ValueError(f"{path}: row {k}: {exc}") from None
        record: dict[str, Any] = {"cell": cell}
        if "val_accuracy" in row:
            record["cifar10_val_108ep"] = float(row["val_accuracy"])
        if "params_millions" in row:
            record["params"] = float(round(float(row["params_millions"]) * 1e6))
        flops = row.get("flops_millions", row.get("mflops"))
        if flops is not None:
            record["flops"] = float(flops) * 1e6
        records.append(record)
        third.append({k2: float(v) for k2, v in (row.get("third_party_proxies") or {}).items()})
    frame = pd.DataFrame(records)
    groups = frame.groupby("cell", sort=False)
    table = pd.DataFrame(index=pd.Index(list(groups.groups), name="cell"))
    if "cifar10_val_108ep" in frame:
        table["cifar10_val_108ep"] = groups["cifar10_val_108ep"].mean()
    for cost in ("params", "flops"):
        if cost in frame:
            table[cost] = groups[cost].first()
    table = table.loc[frame["cell"].drop_duplicates().tolist()]
    tp = pd.DataFrame(third)
    tp.insert(0, "cell", frame["cell"])
    third_party = tp.groupby("cell", sort=False).mean().reindex(table.index)
    counts = groups.size().reindex(table.index)
    return NB101Table(table, third_party=third_party, row_counts=counts, source=str(path))


# ---------------------------------------------------------------------- the official file


def official_frame(path: str | Path, *, check_data_crc: bool = True, check_hashes: bool = False) -> pd.DataFrame:
    """The official tfrecord as a per-cell DataFrame (index: cell string; ``hash`` and the metric columns).

    ``check_hashes`` also recomputes every cell's graph hash and raises ValueError where it differs from the
    file's (about 90 s more for the official file): a check of ``zcnas.spaces.nb101.graph_hash``.
    """
    runs: dict[str, dict[str, Any]] = {}
    for record in read_nasbench_records(path, check_data_crc=check_data_crc):
        entry = runs.get(record["hash"])
        if entry is None:
            entry = runs[record["hash"]] = {"matrix": record["matrix"], "ops": record["ops"],
                                            "params": record["metrics"].get("trainable_parameters"),
                                            "epochs": {}}
        evaluations = record["metrics"]["evaluation_data"]
        if not evaluations:
            raise ValueError(f"{path}: a run of cell {record['hash']} has no evaluations")
        final = evaluations[-1]
        entry["epochs"].setdefault(record["epochs"], []).append(
            (final.get("validation_accuracy", np.nan), final.get("test_accuracy", np.nan),
             final.get("training_time", np.nan)))
    rows = []
    for module_hash, entry in runs.items():
        try:
            cell = space.to_string((entry["matrix"], entry["ops"]))
            if check_hashes and space.graph_hash((entry["matrix"], entry["ops"])) != module_hash:
                raise ValueError(f"the file's hash {module_hash} differs from the cell's graph hash "
                                 f"{space.graph_hash((entry['matrix'], entry['ops']))}")
        except ValueError as exc:
            raise ValueError(f"{path}: cell {module_hash}: {exc}") from None
        row: dict[str, Any] = {"cell": cell, "hash": module_hash, "params": float(entry["params"])}
        for epochs, values in sorted(entry["epochs"].items()):
            val, test, seconds = (float(np.mean(col)) for col in zip(*values))
            row[f"cifar10_val_{epochs}ep"] = 100.0 * val
            row[f"cifar10_test_{epochs}ep"] = 100.0 * test
            row[f"train_time_{epochs}ep"] = seconds
        rows.append(row)
    if not rows:
        raise ValueError(f"{path} holds no NAS-Bench-101 records")
    frame = pd.DataFrame(rows).set_index("cell")
    if frame.index.has_duplicates:
        dup = frame.index[frame.index.duplicated()][0]
        raise ValueError(f"{path}: two graph hashes map to the cell {dup!r}; is this the official file?")
    return frame


def load_nb101_official(path: str | Path, *, check_data_crc: bool = True, check_hashes: bool = False
                        ) -> NB101Table:
    """Load the official ``nasbench_only108.tfrecord`` (or ``nasbench_full.tfrecord``) without TensorFlow.

    Example:
        >>> t = load_nb101_official("nasbench_only108.tfrecord")     # doctest: +SKIP
        >>> len(t), t.split_metric("cifar10", "test")                 # doctest: +SKIP
        (423624, 'cifar10_test_108ep')
    """
    frame = official_frame(path, check_data_crc=check_data_crc, check_hashes=check_hashes)
    return NB101Table(frame, source=str(path))


def convert_official(src: str | Path, dst: str | Path, *, check_data_crc: bool = True,
                     check_hashes: bool = False) -> Path:
    """Read the official tfrecord once and write its per-cell table to Parquet (atomically); returns ``dst``.

    Example:
        >>> convert_official("nasbench_only108.tfrecord", "nb101_official.parquet")   # doctest: +SKIP
        PosixPath('nb101_official.parquet')
    """
    dst = Path(dst)
    frame = official_frame(src, check_data_crc=check_data_crc, check_hashes=check_hashes)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=dst.name, suffix=".tmp")
    os.close(fd)
    try:
        frame.reset_index().to_parquet(tmp, index=False)
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return dst


# ---------------------------------------------------------------------- loader


def load_nb101(path: str | Path | None = None) -> NB101Table:
    """The NAS-Bench-101 table: the 400-cell JSON by default, else ``path`` (.json, .tfrecord or .parquet).

    Cached per path and file version; treat the table as read-only.
    """
    if path is None:
        file = data_file(NB101_JSON, "the NAS-Bench-101 400-cell table")
    else:
        file = Path(path).expanduser()
        if not file.is_file():
            raise FileNotFoundError(f"The NAS-Bench-101 table {file} does not exist.")
    suffix = file.suffix.lower()
    if suffix not in (".json", ".tfrecord", ".parquet", ".pq"):
        raise ValueError(f"{file} is not a .json, .tfrecord or .parquet NAS-Bench-101 table")
    stat = file.stat()
    return _cached(str(file.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _cached(path: str, mtime_ns: int, size: int) -> NB101Table:
    del mtime_ns, size  # cache key only
    lower = path.lower()
    if lower.endswith(".json"):
        return load_nb101_json(path)
    if lower.endswith(".tfrecord"):
        return load_nb101_official(path)
    frame = pd.read_parquet(path).set_index("cell")
    return NB101Table(frame, source=path)


register_benchmark(
    "nb101",
    space="nb101",
    loader=lambda path=None: load_nb101(path),
    description="NAS-Bench-101: 400-row CIFAR-10 sample (237 distinct cells), or the official tfrecord",
)
