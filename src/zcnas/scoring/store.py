"""The resumable result store: a folder of Parquet parts plus the run's settings in ``config.json``.

One row per ``(arch, proxy, seed)`` key with the columns of :data:`COLUMNS`. Every :meth:`ResultStore.append`
(or every small batch of them, see ``flush_every``) becomes one new part, written under a temporary name, synced
to disk and then renamed into place, so a run killed at any moment (``kill -9`` included) leaves complete parts
and at most a ``.tmp`` file, which the next open deletes. Reopening the folder with the same settings resumes:
:meth:`ResultStore.done_keys` says which cells are finished.

Rules, chosen once and tested:

- Last part wins: parts are ordered by name (``part-<20-digit ns timestamp>-<uuid>.parquet``, a timestamp that
  only grows within one writer), rows within a part by position; when a key appears more than once, the row
  read last is the one kept. Callers never see a duplicate key.
- ``"error"`` rows are not done by default, so a rerun retries them; ``"nan"`` rows are done (a NaN is an
  answer, with its reason).
- A part that cannot be read is moved aside to ``<name>.corrupt`` (never deleted), reported with a warning and in
  :attr:`ResultStore.bad_parts`; its cells simply count as not done and get redone.
- One writer per folder: a writer holds an advisory lock on ``<folder>/.lock`` (released by the kernel when the
  process dies). Readers (``read_only=True``) take no lock and change nothing.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "c10"
    >>> with ResultStore(folder, {"space": "nb201", "batch_size": 64}) as store:
    ...     store.append([{"arch": "a", "proxy": "synflow", "seed": 0, "value": 1.5, "status": "ok"}])
    ...     sorted(store.done_keys())
    [('a', 'synflow', 0)]
    >>> ResultStore(folder, read_only=True).rows()[["arch", "proxy", "seed", "value"]].values.tolist()
    [['a', 'synflow', 0, 1.5]]
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from typing_extensions import Self

try:  # POSIX advisory locks; on other systems the one-writer rule is not enforced.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["COLUMNS", "KEY_COLUMNS", "SCHEMA", "STATUSES", "ResultStore", "StoreError", "StoreWriteError"]

#: The key of a row.
KEY_COLUMNS: tuple[str, ...] = ("arch", "proxy", "seed")

#: The Arrow schema of every part, in column order.
SCHEMA: pa.Schema = pa.schema(
    [
        ("arch", pa.string()),
        ("proxy", pa.string()),
        ("seed", pa.int64()),
        ("value", pa.float64()),
        ("status", pa.string()),
        ("reason", pa.string()),
        ("seconds", pa.float64()),
        ("shared_from", pa.string()),
    ]
)

#: Column names, in order.
COLUMNS: tuple[str, ...] = tuple(SCHEMA.names)

#: Allowed values of the ``status`` column.
STATUSES: tuple[str, ...] = ("ok", "nan", "error")

CONFIG_NAME = "config.json"
LOCK_NAME = ".lock"
_PART_PREFIX = "part-"
_PART_SUFFIX = ".parquet"
_DEFAULTS: dict[str, Any] = {"value": math.nan, "reason": "", "seconds": math.nan, "shared_from": ""}
_MISSING = object()

Key = tuple[str, str, int]


class StoreError(RuntimeError):
    """The result folder cannot be used as asked (settings differ, unwritable, in use); the message says why."""


class StoreWriteError(StoreError, OSError):
    """The operating system refused a write (disk full, read-only folder, no permission): a failure, not bad
    usage. Rows written before are kept, so a rerun resumes. Also an :class:`OSError`; ``errno`` is the cause's."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.errno = getattr(cause, "errno", None)
        self.strerror = getattr(cause, "strerror", None)

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _os_message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every file system lets a directory be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _normalise_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``config`` as it will read back from JSON (tuples become lists), or raise naming the bad key."""
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict of str -> JSON value, not {type(config).__name__}")
    out: dict[str, Any] = {}
    for key, value in config.items():
        if not isinstance(key, str):
            raise TypeError(f"config keys must be strings, not {key!r}")
        try:
            out[key] = json.loads(json.dumps(value, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"config[{key!r}] = {value!r} cannot be stored as JSON ({exc})") from None
    return out


def _describe_difference(key: str, before: Any, after: Any) -> str:
    """``batch_size=64, not 128``; a key missing on one side reads ``dtype unset, not "float64"``."""
    old = f"{key} unset" if before is _MISSING else f"{key}={json.dumps(before, sort_keys=True)}"
    new = "unset" if after is _MISSING else json.dumps(after, sort_keys=True)
    return f"{old}, not {new}"


def _part_sort_key(path: Path) -> str:
    return path.name


def _is_part(path: Path) -> bool:
    return path.name.startswith(_PART_PREFIX) and path.name.endswith(_PART_SUFFIX)


def _empty_table() -> pa.Table:
    return SCHEMA.empty_table()


class ResultStore:
    """A resumable folder of Parquet parts holding one row per ``(arch, proxy, seed)``.

    Args:
        folder: the output folder; created (parents too) when missing.
        config: the run's settings (str -> JSON value: space, dataset, batch size, dtype, proxy options,
            package version, ...). A new folder records them in ``config.json``; an existing folder must have
            been made with the same settings, except for the keys in ``ignore_keys``. ``None`` adopts the
            folder's recorded settings (the folder must exist).
        ignore_keys: keys whose values may change between runs (e.g. the list of proxies, which may grow). When
            only these differ, ``config.json`` is rewritten with the new values.
        flush_every: write a part as soon as this many rows are buffered (1: every append is one part).
        flush_seconds: also write a part when the oldest buffered row is this old (checked on append).
        compact_every: merge the parts into one after a flush that leaves at least this many (None: never).
        read_only: open an existing folder for reading only: no lock, nothing deleted or moved, no appends.

    Raises:
        StoreError: the settings differ or another writer holds it.
        StoreWriteError: (a StoreError and an OSError) the folder cannot be created or written.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp()) / "run"
        >>> with ResultStore(folder, {"batch_size": 64}) as store:
        ...     store.append([{"arch": "a", "proxy": "snip", "seed": 0, "value": 2.0, "status": "ok"}])
        >>> ResultStore(folder, {"batch_size": 128})  # doctest: +ELLIPSIS, +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        ...
        zcnas.scoring.store.StoreError: output folder ... was made with batch_size=64, not 128; use another --out or the same settings
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        config: Mapping[str, Any] | None = None,
        *,
        ignore_keys: Iterable[str] = (),
        flush_every: int = 1,
        flush_seconds: float | None = None,
        compact_every: int | None = 1000,
        read_only: bool = False,
    ) -> None:
        if flush_every < 1:
            raise ValueError(f"flush_every must be at least 1 row, not {flush_every}")
        if compact_every is not None and compact_every < 2:
            raise ValueError(f"compact_every must be at least 2 parts or None, not {compact_every}")
        self.folder = Path(folder)
        self.read_only = read_only
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self.compact_every = compact_every
        self.ignore_keys = frozenset(ignore_keys)
        #: Parts that could not be read on open, by their original path (moved aside to ``<name>.corrupt``).
        self.bad_parts: list[Path] = []
        self._lock_fh: Any = None
        self._buffer: list[dict[str, Any]] = []
        self._buffer_since: float | None = None
        self._parts: list[Path] = []
        self._tables: list[pa.Table] = []
        self._status: dict[Key, str] = {}
        self._last_ns = 0
        self._closed = False

        new_config = None if config is None else _normalise_config(config)
        if read_only:
            self._open_read_only(new_config)
        else:
            self._open_writer(new_config)
        self._load_parts()

    # ------------------------------------------------------------------ opening

    def _open_read_only(self, new_config: dict[str, Any] | None) -> None:
        if not (self.folder / CONFIG_NAME).is_file():
            raise StoreError(f"no result store at {self.folder}: it has no {CONFIG_NAME}")
        self.config = self._read_config()
        if new_config is not None:
            self._check_config(self.config, new_config)

    def _open_writer(self, new_config: dict[str, Any] | None) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreWriteError(f"cannot create the output folder {self.folder}: {_os_message(exc)}", exc) from exc
        self._acquire_lock()
        try:
            self._remove_tmp_files()
            config_path = self.folder / CONFIG_NAME
            if config_path.is_file():
                old = self._read_config()
                if new_config is None:
                    self.config = old
                else:
                    self._check_config(old, new_config)
                    self.config = new_config
                    if old != new_config:  # only ignored keys differ: record the new values
                        self._write_config(new_config)
            else:
                if any(_is_part(p) for p in self.folder.iterdir()):
                    raise StoreError(
                        f"output folder {self.folder} holds result parts but no {CONFIG_NAME}, so its settings "
                        f"are unknown; use another --out or restore {CONFIG_NAME}"
                    )
                if new_config is None:
                    raise StoreError(
                        f"no result store at {self.folder}: pass the run's settings to create one"
                    )
                self._write_config(new_config)
                self.config = new_config
        except BaseException:
            self._release_lock()
            raise

    def _acquire_lock(self) -> None:
        if fcntl is None:  # pragma: no cover - Windows
            return
        path = self.folder / LOCK_NAME
        try:
            fh = open(path, "a+")  # noqa: SIM115 - held open for the store's lifetime: it carries the lock
        except OSError as exc:
            raise StoreWriteError(f"cannot write to the output folder {self.folder}: {_os_message(exc)}", exc) from exc
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise StoreError(
                f"output folder {self.folder} is in use by another writer (this or another process); "
                "close it, wait for that run to finish, or use another --out"
            ) from None
        self._lock_fh = fh

    def _release_lock(self) -> None:
        if self._lock_fh is not None:
            try:
                self._lock_fh.close()  # closing the file releases the flock
            finally:
                self._lock_fh = None

    def _remove_tmp_files(self) -> None:
        for path in self.folder.glob("*.tmp"):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise StoreWriteError(f"cannot remove the stale file {path}: {_os_message(exc)}", exc) from exc

    def _read_config(self) -> dict[str, Any]:
        path = self.folder / CONFIG_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {_os_message(exc)}") from exc
        except ValueError as exc:
            raise StoreError(f"{path} is not valid JSON ({exc}); restore it or use another --out") from None
        if not isinstance(data, dict):
            raise StoreError(
                f"{path} does not hold a JSON object of settings; restore it or use another --out"
            )
        return data

    def _check_config(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        differing = []
        for key in [*new, *(k for k in old if k not in new)]:
            if key in self.ignore_keys:
                continue
            before, after = old.get(key, _MISSING), new.get(key, _MISSING)
            if before != after:
                differing.append(_describe_difference(key, before, after))
        if differing:
            raise StoreError(
                f"output folder {self.folder} was made with {', and with '.join(differing)}; "
                "use another --out or the same settings"
            )

    def _write_config(self, config: Mapping[str, Any]) -> None:
        text = json.dumps(config, indent=2, sort_keys=True) + "\n"
        self._atomic_write(self.folder / CONFIG_NAME, lambda fh: fh.write(text.encode("utf-8")))

    # ------------------------------------------------------------------ reading parts

    def _load_parts(self) -> None:
        paths = sorted((p for p in self.folder.iterdir() if _is_part(p) and p.is_file()), key=_part_sort_key)
        for path in paths:
            table = self._read_part(path)
            if table is None:
                continue
            self._parts.append(path)
            self._add_table(table)
            self._note_timestamp(path)

    def _read_part(self, path: Path) -> pa.Table | None:
        try:
            table = pq.read_table(path)
            missing = [c for c in COLUMNS if c not in table.column_names]
            if missing:
                raise ValueError(f"missing columns {missing}")
            table = table.select(list(COLUMNS)).cast(SCHEMA)
            if table.column("seed").null_count or any(
                table.column(c).null_count for c in ("arch", "proxy", "status")
            ):
                raise ValueError("null keys or statuses")
        except Exception as exc:  # noqa: BLE001 - any unreadable part is set aside, whatever the reader raised
            self._set_aside(path, exc)
            return None
        return table

    def _set_aside(self, path: Path, exc: BaseException) -> None:
        self.bad_parts.append(path)
        if self.read_only:
            warnings.warn(f"result part {path} is unreadable ({exc}); its rows are skipped", stacklevel=3)
            return
        target = path.with_name(path.name + ".corrupt")
        try:
            os.replace(path, target)
        except OSError as move_exc:
            raise StoreWriteError(
                f"result part {path} is unreadable and cannot be moved aside: {_os_message(move_exc)}", move_exc
            ) from move_exc
        warnings.warn(
            f"result part {path} is unreadable ({exc}); moved it aside to {target.name} and its cells will be redone",
            stacklevel=3,
        )

    def _note_timestamp(self, path: Path) -> None:
        try:
            self._last_ns = max(self._last_ns, int(path.name[len(_PART_PREFIX) :].split("-", 1)[0]))
        except ValueError:
            pass

    def _add_table(self, table: pa.Table) -> None:
        self._tables.append(table)
        cols = table.select(["arch", "proxy", "seed", "status"]).to_pydict()
        for arch, proxy, seed, status in zip(cols["arch"], cols["proxy"], cols["seed"], cols["status"]):
            self._status[(arch, proxy, seed)] = status

    # ------------------------------------------------------------------ writing

    def _atomic_write(self, final: Path, write: Any) -> None:
        """Write ``final`` via a synced ``.tmp`` file and a rename; raise :class:`StoreWriteError` on an OS error."""
        tmp = self.folder / f"{final.stem}-{uuid.uuid4().hex}{final.suffix}.tmp"
        if final.name.startswith(_PART_PREFIX):
            tmp = self.folder / f"{_PART_PREFIX}{uuid.uuid4().hex}{_PART_SUFFIX}.tmp"
        try:
            with open(tmp, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except (OSError, pa.ArrowException) as exc:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            raise StoreWriteError(
                f"cannot write results to {self.folder}: {_os_message(exc)}; the rows written before are kept", exc
            ) from exc
        _fsync_dir(self.folder)

    def _next_part_path(self, ns: int | None = None) -> Path:
        if ns is None:
            ns = max(time.time_ns(), self._last_ns + 1)
            self._last_ns = ns
        return self.folder / f"{_PART_PREFIX}{ns:020d}-{uuid.uuid4().hex}{_PART_SUFFIX}"

    def _write_table(self, table: pa.Table, path: Path) -> None:
        self._atomic_write(path, lambda fh: pq.write_table(table, fh))

    def _check_writable(self) -> None:
        if self.read_only:
            raise StoreError(f"result store {self.folder} was opened read-only")
        if self._closed:
            raise StoreError(f"result store {self.folder} is closed")

    @staticmethod
    def _validate(row: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(row) - set(COLUMNS))
        if unknown:
            raise ValueError(f"unknown result columns {unknown}; allowed: {list(COLUMNS)}")
        missing = [c for c in ("arch", "proxy", "seed", "status") if c not in row]
        if missing:
            raise ValueError(f"result row {dict(row)!r} lacks {missing}")
        out = {**_DEFAULTS, **row}
        for col in ("arch", "proxy", "status", "reason", "shared_from"):
            if not isinstance(out[col], str):
                raise TypeError(f"result column {col} must be a str, not {out[col]!r}")
        seed = out["seed"]
        if isinstance(seed, bool) or not hasattr(seed, "__index__"):
            raise TypeError(f"result column seed must be an int, not {seed!r}")
        out["seed"] = int(seed.__index__())
        for col in ("value", "seconds"):
            v = out[col]
            try:
                out[col] = math.nan if v is None else float(v)
            except (TypeError, ValueError):
                raise TypeError(f"result column {col} must be a float, not {v!r}") from None
        if out["status"] not in STATUSES:
            raise ValueError(f"result status must be one of {list(STATUSES)}, not {out['status']!r}")
        if out["status"] == "ok" and not math.isfinite(out["value"]):
            raise ValueError(
                f"a non-finite value ({out['value']}) for {out['arch']!r}/{out['proxy']} must have status 'nan' "
                "and a reason, not 'ok'"
            )
        return out

    def append(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Add result rows; they reach disk as one part once ``flush_every`` rows (or ``flush_seconds``) are due.

        Each row needs ``arch``, ``proxy``, ``seed`` and ``status`` ("ok" | "nan" | "error"); ``value`` defaults to
        NaN, ``reason`` and ``shared_from`` to "", ``seconds`` to NaN. A row with status "ok" must hold a finite
        value. Rows of one call always go to the same part.

        Args:
            rows: the rows of one finished cell (or a few).

        Raises:
            ValueError, TypeError: a row is malformed (the message names the column).
            StoreWriteError: the part cannot be written (disk full, no permission); the rows stay buffered.

        Example:
            >>> import tempfile
            >>> with ResultStore(tempfile.mkdtemp(), {}) as store:
            ...     store.append([{"arch": "a", "proxy": "snip", "seed": 0, "status": "nan", "reason": "inf"}])
            ...     store.done_keys()
            {('a', 'snip', 0)}
        """
        self._check_writable()
        checked = [self._validate(row) for row in rows]
        if not checked:
            return
        if not self._buffer:
            self._buffer_since = time.monotonic()
        self._buffer.extend(checked)
        for row in checked:
            self._status[(row["arch"], row["proxy"], row["seed"])] = row["status"]
        due = len(self._buffer) >= self.flush_every or (
            self.flush_seconds is not None
            and self._buffer_since is not None
            and time.monotonic() - self._buffer_since >= self.flush_seconds
        )
        if due:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows as one new part (nothing when the buffer is empty).

        Raises:
            StoreWriteError: the part cannot be written; the buffered rows are kept for the next try.
        """
        if not self._buffer:
            return
        self._check_writable()
        table = pa.Table.from_pylist(self._buffer, schema=SCHEMA)
        path = self._next_part_path()
        self._write_table(table, path)
        self._parts.append(path)
        self._tables.append(table)
        self._buffer = []
        self._buffer_since = None
        if self.compact_every is not None and len(self._parts) >= self.compact_every:
            self.compact()

    def compact(self) -> Path | None:
        """Merge every part into one, de-duplicated, written before the old parts are removed.

        A crash midway leaves the merged part next to some old ones: :meth:`rows` de-duplicates them (the merged
        part holds exactly the winning rows), so no row is ever lost.

        Returns:
            The merged part's path, or None when there are no parts.
        """
        self._check_writable()
        self._flush_no_compact()
        if not self._parts:
            return None
        merged = self._merged_table()
        # Name it with the newest old part's timestamp so parts written later still sort after it.
        newest = max(int(p.name[len(_PART_PREFIX) :].split("-", 1)[0]) for p in self._parts)
        path = self._next_part_path(ns=newest)
        self._write_table(merged, path)
        old = self._parts
        self._parts, self._tables = [path], [merged]
        for part in old:
            try:
                part.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise StoreWriteError(f"cannot remove the merged part {part}: {_os_message(exc)}", exc) from exc
        _fsync_dir(self.folder)
        return path

    def _flush_no_compact(self) -> None:
        if not self._buffer:
            return
        saved, self.compact_every = self.compact_every, None
        try:
            self.flush()
        finally:
            self.compact_every = saved

    def close(self) -> None:
        """Write buffered rows and release the folder (idempotent)."""
        if self._closed:
            return
        try:
            if not self.read_only:
                self._flush_no_compact()
        finally:
            self._closed = True
            self._release_lock()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
            return
        try:
            self.close()
        except StoreError as err:  # do not hide the original exception behind a second one
            warnings.warn(f"buffered results were not written: {err}", stacklevel=2)

    # ------------------------------------------------------------------ queries

    def _merged_table(self) -> pa.Table:
        tables = list(self._tables)
        if self._buffer:
            tables.append(pa.Table.from_pylist(self._buffer, schema=SCHEMA))
        if not tables:
            return _empty_table()
        table = pa.concat_tables(tables)
        # Keep the last occurrence of each key: the largest position in read order.
        table = table.append_column("_pos", pa.array(range(table.num_rows), type=pa.int64()))
        last = table.group_by(list(KEY_COLUMNS), use_threads=False).aggregate([("_pos", "max")])
        keep = pc.sort_indices(last.column("_pos_max"))
        table = table.take(last.column("_pos_max").take(keep)).drop_columns(["_pos"])
        return table.sort_by([(c, "ascending") for c in KEY_COLUMNS])

    def done_keys(self, include_errors: bool = False) -> set[Key]:
        """The keys ``(arch, proxy, seed)`` that are finished, buffered rows included.

        Args:
            include_errors: also count keys whose latest row has status "error" (by default they are retried).

        Returns:
            A set of ``(arch, proxy, seed)`` tuples.
        """
        if include_errors:
            return set(self._status)
        return {key for key, status in self._status.items() if status != "error"}

    def rows(self) -> pd.DataFrame:
        """Every row, one per key (the last written wins), sorted by ``arch, proxy, seed``; buffered rows included.

        Returns:
            A DataFrame with the columns of :data:`COLUMNS`: ``seed`` int64, ``value`` and ``seconds`` float64,
            the rest strings.
        """
        return self._merged_table().to_pandas().reset_index(drop=True)

    def pivot(self, value: str = "value", seed: int | None = None) -> pd.DataFrame:
        """One seed's results as a table: index ``arch``, one column per proxy (NaN where missing or failed).

        Args:
            value: the column to spread ("value" or "seconds").
            seed: the seed to show; may be left out when the store holds only one.

        Returns:
            A DataFrame indexed by arch with one float64 column per proxy, both sorted.

        Raises:
            ValueError: an unknown ``value`` column, or several seeds and none chosen.
        """
        if value not in ("value", "seconds"):
            raise ValueError(f"pivot value must be 'value' or 'seconds', not {value!r}")
        df = self.rows()
        seeds = sorted(int(s) for s in df["seed"].unique())
        if seed is None:
            if len(seeds) > 1:
                raise ValueError(f"the results hold seeds {seeds}; pass seed= to choose one")
        else:
            df = df[df["seed"] == seed]
        table = df.pivot(index="arch", columns="proxy", values=value).sort_index().sort_index(axis=1)
        table.columns.name = "proxy"
        return table.astype("float64")

    @property
    def parts(self) -> list[Path]:
        """The part files currently holding this store's rows, in the order they are read."""
        return list(self._parts)

    def __repr__(self) -> str:
        return f"ResultStore({str(self.folder)!r}, rows={len(self._status)}, parts={len(self._parts)})"
