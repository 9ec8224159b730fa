"""A restricted unpickler: only an explicit allow-list of globals may be loaded.

The standard CIFAR python folders and NATS-Bench files are pickles. Plain ``pickle.load`` would run any
callable a file names; :class:`RestrictedUnpickler` refuses every global that is not on its allow-list, so
such files can be read without trusting them.
"""

from __future__ import annotations

import collections
import importlib
import io
import pickle
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any, Union

__all__ = [
    "CONTAINER_GLOBALS",
    "NUMPY_ARRAY_GLOBALS",
    "NUMPY_SCALAR_GLOBALS",
    "RestrictedUnpickler",
    "UnsafePickleError",
    "restricted_load",
    "restricted_loads",
]


Resolvers = Mapping[tuple[str, str], Callable[[], Any]]
#: One allow-list (``(module, name) -> zero-argument resolver``) or several to merge.
AllowList = Union[Resolvers, Iterable[Resolvers]]


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle named a global that is not on the allow-list."""


def _numpy_core(submodule: str, name: str) -> Callable[[], Any]:
    """Resolve ``numpy._core.<submodule>.<name>`` (numpy 2) or ``numpy.core.<submodule>.<name>`` (numpy 1)."""

    def resolve() -> Any:
        try:  # numpy >= 2
            module = importlib.import_module(f"numpy._core.{submodule}")
        except ImportError:  # numpy 1.x
            module = importlib.import_module(f"numpy.core.{submodule}")
        return getattr(module, name)

    return resolve


def _attr(module: str, name: str) -> Callable[[], Any]:
    def resolve() -> Any:
        return getattr(importlib.import_module(module), name)

    return resolve


#: Globals needed to rebuild a numpy ndarray (numpy 1.x and 2.x names; ``_frombuffer`` is what numpy writes
#: under pickle protocol 5, ``_codecs.encode`` what Python 3 writes for raw bytes under protocol 2).
NUMPY_ARRAY_GLOBALS: dict[tuple[str, str], Callable[[], Any]] = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_core("multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): _numpy_core("multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"): _numpy_core("numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"): _numpy_core("numeric", "_frombuffer"),
    ("numpy", "ndarray"): _attr("numpy", "ndarray"),
    ("numpy", "dtype"): _attr("numpy", "dtype"),
    ("_codecs", "encode"): _attr("_codecs", "encode"),
}

#: Globals needed to rebuild numpy scalars such as ``np.float64(93.1)``.
NUMPY_SCALAR_GLOBALS: dict[tuple[str, str], Callable[[], Any]] = {
    ("numpy.core.multiarray", "scalar"): _numpy_core("multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"): _numpy_core("multiarray", "scalar"),
    ("numpy", "dtype"): _attr("numpy", "dtype"),
    ("_codecs", "encode"): _attr("_codecs", "encode"),
}

#: Plain containers that are not pickled natively.
CONTAINER_GLOBALS: dict[tuple[str, str], Callable[[], Any]] = {
    ("collections", "OrderedDict"): lambda: collections.OrderedDict,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler whose ``find_class`` only returns allow-listed globals.

    Args:
        file: Binary file object to read.
        allowed: Map ``(module, name) -> zero-argument resolver`` of the permitted globals.
        source: A name for the data (a path), used in error messages.
        **kwargs: Passed to :class:`pickle.Unpickler` (e.g. ``encoding="bytes"``).

    Example:
        >>> import io, pickle
        >>> import numpy as np
        >>> blob = pickle.dumps({"x": np.arange(3)})
        >>> RestrictedUnpickler(io.BytesIO(blob), NUMPY_ARRAY_GLOBALS).load()["x"].tolist()
        [0, 1, 2]
    """

    def __init__(
        self,
        file: IO[bytes],
        allowed: Resolvers,
        *,
        source: str = "the pickle",
        **kwargs: Any,
    ) -> None:
        super().__init__(file, **kwargs)
        self._allowed = dict(allowed)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        resolver = self._allowed.get((module, name))
        if resolver is not None:
            return resolver()
        allowed = ", ".join(sorted(f"{m}.{n}" for m, n in self._allowed)) or "none"
        raise UnsafePickleError(
            f"Refusing to load {source_name(self._source)}: it asks for the global {module}.{name}, "
            f"and only these are allowed: {allowed}."
        )

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(
            f"Refusing to load {source_name(self._source)}: it uses persistent ids, which are not allowed."
        )


def source_name(source: str) -> str:
    """Format a data source for messages (``the pickle`` stays as is, a path gets quoted)."""
    return source if source == "the pickle" else f"'{source}'"


def restricted_load(
    file: IO[bytes] | str | Path,
    allowed: AllowList,
    *,
    source: str | None = None,
    **kwargs: Any,
) -> Any:
    """Unpickle a file (path or binary file object) allowing only the given globals.

    Args:
        file: A path or an open binary file.
        allowed: One allow-list mapping, or several to merge (e.g. ``[NUMPY_ARRAY_GLOBALS, CONTAINER_GLOBALS]``).
        source: Name of the data for error messages (default: the path, or "the pickle").
        **kwargs: Passed to :class:`pickle.Unpickler` (e.g. ``encoding="bytes"``).

    Returns:
        The unpickled object.

    Raises:
        UnsafePickleError: The pickle names a global outside the allow-list.

    Example:
        >>> import io, pickle
        >>> restricted_load(io.BytesIO(pickle.dumps([1, 2])), {})
        [1, 2]
    """
    merged = _merge(allowed)
    if isinstance(file, (str, Path)):
        with open(file, "rb") as handle:
            return RestrictedUnpickler(handle, merged, source=source or str(file), **kwargs).load()
    return RestrictedUnpickler(file, merged, source=source or "the pickle", **kwargs).load()


def restricted_loads(
    data: bytes,
    allowed: AllowList,
    **kwargs: Any,
) -> Any:
    """Unpickle bytes allowing only the given globals (see :func:`restricted_load`).

    Example:
        >>> import pickle
        >>> restricted_loads(pickle.dumps({"a": 1}), {})
        {'a': 1}
    """
    return restricted_load(io.BytesIO(data), allowed, **kwargs)


def _merge(
    allowed: AllowList,
) -> dict[tuple[str, str], Callable[[], Any]]:
    if isinstance(allowed, Mapping):
        return dict(allowed)
    merged: dict[tuple[str, str], Callable[[], Any]] = {}
    for part in allowed:
        merged.update(part)
    return merged
