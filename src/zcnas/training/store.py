"""The resumable reduced-training folder: settings, one Parquet part per finished cell, per-epoch checkpoints.

Layout of a run folder::

    config.json                 the settings (``TrainSettings.config()``); a rerun must match them
    rows/cell-<key>.parquet     the finished cell's rows, one per epoch (``ROW_SCHEMA``)
    rows/all-<ns>.parquet       parts merged by ``compact()``
    checkpoints/cell-<key>.pt   the cell in flight: model, optimiser, finished epochs' rows

Every file is written under a temporary name and renamed into place (``zcnas.atomic.atomic_open``), so a run
killed at any moment leaves whole files. After each epoch the cell's checkpoint is replaced; when the cell's
last epoch is done its part is written, then the checkpoint is deleted. A reopened folder resumes: cells with a
part are done, a cell with a checkpoint continues at the epoch after the checkpoint's, and a checkpoint next to
a part (killed between the two steps) is stale and removed. Checkpoints are read with
``torch.load(weights_only=True)``. When a key ``(cell, epoch)`` appears in more than one part, the part read
last wins (parts in name order: ``all-*`` before ``cell-*``). One writer per folder (an advisory lock).

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "run"
    >>> with TrainStore(folder, {"epochs": 1}) as store:
    ...     _ = store.write_cell("a", [{"cell": "a", "epoch": 1, "val_acc": 50.0}])
    ...     sorted(store.done_cells())
    ['a']
    >>> TrainStore(folder, read_only=True).rows()[["cell", "epoch", "val_acc"]].values.tolist()
    [['a', 1, 50.0]]
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from zcnas.atomic import atomic_open

try:  # POSIX advisory locks
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["ROW_SCHEMA", "TrainStore", "TrainStoreError", "cell_key"]

#: The columns of the per-cell-and-epoch table, in order.
ROW_SCHEMA: pa.Schema = pa.schema([
    ("cell", pa.string()),
    ("epoch", pa.int64()),            # 1-based: the row after this many epochs of training
    ("lr", pa.float64()),             # the learning rate this epoch trained with
    ("train_loss", pa.float64()),     # mean cross-entropy over the epoch's samples
    ("train_acc", pa.float64()),      # % correct during the epoch (train mode, augmented)
    ("val_loss", pa.float64()),       # after the epoch, eval mode
    ("val_acc", pa.float64()),        # % correct on the validation images after the epoch
    ("samples", pa.int64()),          # training samples seen this epoch
    ("flops_per_sample", pa.int64()),       # forward FLOPs of one sample, reduced network
    ("full_flops_per_sample", pa.int64()),  # forward FLOPs of one sample, full-size network
    ("cost", pa.float64()),           # this epoch's training cost, minibatch-equivalents
    ("cum_cost", pa.float64()),       # training cost up to and including this epoch
    ("seconds", pa.float64()),        # wall-clock of this epoch's training (data preparation included)
    ("eval_seconds", pa.float64()),   # wall-clock of the validation pass
    ("status", pa.string()),          # "ok", or "nan" when the loss became non-finite
    ("reason", pa.string()),
])

CONFIG_NAME = "config.json"
_LOCK_NAME = ".lock"
_CHECKPOINT_FORMAT = 1


class TrainStoreError(RuntimeError):
    """The run folder cannot be used as asked (other settings, in use, unreadable); the message says why."""


def cell_key(cell: str) -> str:
    """A short file-name-safe key of a cell string (BLAKE2b, 20 hex digits).

    Example:
        >>> len(cell_key("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"))
        20
    """
    return hashlib.blake2b(cell.encode("utf-8"), digest_size=10).hexdigest()


def _difference(old: Mapping[str, Any], new: Mapping[str, Any]) -> str | None:
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            return f"{key}={old.get(key)!r}, not {new.get(key)!r}"
    return None


class TrainStore:
    """A reduced-training run folder (see the module docstring).

    Args:
        folder: the run folder; created when missing.
        config: the run's settings; an existing folder must have been made with the same ones. None adopts the
            folder's (it must exist).
        read_only: read an existing folder: no lock, nothing removed, no writes.
    """

    def __init__(self, folder: str | Path, config: Mapping[str, Any] | None = None, *,
                 read_only: bool = False) -> None:
        self.folder = Path(folder)
        self.read_only = read_only
        self._lock_fh: Any = None
        config = None if config is None else json.loads(json.dumps(dict(config)))
        path = self.folder / CONFIG_NAME
        if read_only:
            if not path.is_file():
                raise TrainStoreError(f"no reduced-training run at {self.folder}: it has no {CONFIG_NAME}")
            self.config = self._read_config()
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TrainStoreError(f"cannot create the run folder {self.folder}: {exc.strerror or exc}") from exc
        self._lock()
        try:
            if path.is_file():
                self.config = self._read_config()
                if config is not None and (why := _difference(self.config, config)):
                    raise TrainStoreError(f"run folder {self.folder} was made with {why}; use another --out "
                                          "or the same settings")
            elif config is None:
                raise TrainStoreError(f"no reduced-training run at {self.folder}: pass the settings to start one")
            elif any(self._part_paths()) or any(self._checkpoint_dir.glob("*.pt")):
                raise TrainStoreError(f"run folder {self.folder} holds results but no {CONFIG_NAME}; restore it "
                                      "or use another --out")
            else:
                self.config = config
                with atomic_open(path, "w", encoding="utf-8") as fh:
                    json.dump(config, fh, indent=2, sort_keys=True)
                    fh.write("\n")
            self._clean()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ folder handling
    @property
    def _rows_dir(self) -> Path:
        return self.folder / "rows"

    @property
    def _checkpoint_dir(self) -> Path:
        return self.folder / "checkpoints"

    def _read_config(self) -> dict[str, Any]:
        try:
            return json.loads((self.folder / CONFIG_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TrainStoreError(f"cannot read {self.folder / CONFIG_NAME}: {exc}") from exc

    def _lock(self) -> None:
        if fcntl is None:  # pragma: no cover
            return
        fh = open(self.folder / _LOCK_NAME, "a+")  # noqa: SIM115 - held open: it carries the lock
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise TrainStoreError(f"run folder {self.folder} is in use by another run; wait for it or use "
                                  "another --out") from None
        self._lock_fh = fh

    def _clean(self) -> None:
        """Remove temporary files left by a killed writer and checkpoints of cells that have a part."""
        for folder in (self.folder, self._rows_dir, self._checkpoint_dir):
            for tmp in folder.glob(".*.tmp") if folder.is_dir() else ():
                tmp.unlink(missing_ok=True)
        done = {cell_key(c) for c in self.done_cells()}
        for path in self._checkpoint_dir.glob("cell-*.pt") if self._checkpoint_dir.is_dir() else ():
            if path.stem[len("cell-"):] in done:
                path.unlink(missing_ok=True)

    def _part_paths(self) -> list[Path]:
        if not self._rows_dir.is_dir():
            return []
        return sorted(self._rows_dir.glob("*.parquet"), key=lambda p: p.name)

    def _check_writable(self) -> None:
        if self.read_only:
            raise TrainStoreError(f"run folder {self.folder} is open read-only")

    # ------------------------------------------------------------------ rows
    def write_cell(self, cell: str, rows: Sequence[Mapping[str, Any]]) -> Path:
        """Write a finished cell's rows as one part, then drop its checkpoint."""
        self._check_writable()
        table = pa.Table.from_pylist([dict(r) for r in rows], schema=_schema_for(rows))
        path = self._rows_dir / f"cell-{cell_key(cell)}.parquet"
        with atomic_open(path, "wb") as fh:
            pq.write_table(table, fh)
        self.checkpoint_path(cell).unlink(missing_ok=True)
        return path

    def rows(self) -> pd.DataFrame:
        """Every row, one per (cell, epoch), the last part read winning; sorted by cell order of writing."""
        tables = [pq.read_table(p) for p in self._part_paths()]
        if not tables:
            return pd.DataFrame({name: pd.Series(dtype=object) for name in ROW_SCHEMA.names})
        frame = pa.concat_tables(tables, promote_options="default").to_pandas()
        return frame.drop_duplicates(["cell", "epoch"], keep="last").reset_index(drop=True)

    def done_cells(self) -> set[str]:
        """Cells whose part is written."""
        return set(self.rows()["cell"]) if self._part_paths() else set()

    def compact(self) -> Path | None:
        """Merge every part into one ``all-<ns>.parquet`` (written before the old parts are removed)."""
        self._check_writable()
        parts = self._part_paths()
        if len(parts) < 2:
            return None
        frame = self.rows()
        path = self._rows_dir / f"all-{time.time_ns():020d}.parquet"
        with atomic_open(path, "wb") as fh:
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), fh)
        for old in parts:
            old.unlink(missing_ok=True)
        return path

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_path(self, cell: str) -> Path:
        """Where the cell in flight keeps its checkpoint."""
        return self._checkpoint_dir / f"cell-{cell_key(cell)}.pt"

    def save_checkpoint(self, cell: str, epoch: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                        rows: Sequence[Mapping[str, Any]]) -> None:
        """Atomically replace the cell's checkpoint with its state after ``epoch`` finished epochs."""
        self._check_writable()
        state = {"format": _CHECKPOINT_FORMAT, "cell": cell, "epoch": int(epoch), "model": model.state_dict(),
                 "optimizer": optimizer.state_dict(), "rows": [dict(r) for r in rows]}
        with atomic_open(self.checkpoint_path(cell), "wb") as fh:
            torch.save(state, fh)

    def load_checkpoint(self, cell: str) -> dict[str, Any] | None:
        """The cell's checkpoint (``weights_only``), or None when it has none."""
        path = self.checkpoint_path(cell)
        if not path.is_file():
            return None
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise TrainStoreError(f"cannot read the checkpoint {path} ({type(exc).__name__}: {exc}); delete it "
                                  "to retrain that cell from its first epoch") from exc
        if not isinstance(state, dict) or state.get("format") != _CHECKPOINT_FORMAT or state.get("cell") != cell:
            raise TrainStoreError(f"checkpoint {path} is not a checkpoint of cell {cell!r}; delete it to retrain "
                                  "that cell")
        return state

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Release the lock."""
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None

    def __enter__(self) -> TrainStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TrainStore({str(self.folder)!r})"


def _schema_for(rows: Sequence[Mapping[str, Any]]) -> pa.Schema:
    """``ROW_SCHEMA`` when the rows carry exactly its columns, else the schema Arrow infers (tests, extensions)."""
    names = set().union(*(r.keys() for r in rows)) if rows else set()
    return ROW_SCHEMA if names == set(ROW_SCHEMA.names) else pa.Table.from_pylist([dict(r) for r in rows]).schema
