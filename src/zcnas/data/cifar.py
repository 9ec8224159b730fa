"""CIFAR readers: the shared npz subset and the standard ``cifar-10-batches-py`` / ``cifar-100-python`` folders.

The standard folders are pickles; they are read with a restricted unpickler that only rebuilds numpy arrays.
Every loader returns ``(x uint8 (N, 32, 32, 3) RGB, y int64 (N,))`` as read-only arrays cached per process.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from zcnas.data.paths import data_file
from zcnas.data.safe_pickle import NUMPY_ARRAY_GLOBALS, restricted_load

__all__ = [
    "CIFAR10_SUBSET_FILES",
    "CIFAR100_SUBSET_FILES",
    "load_cifar100_subset",
    "detect_cifar_folder",
    "load_cifar10_subset",
    "load_cifar_batches_py",
]

#: The shared subset files, relative to the data folder.
CIFAR10_SUBSET_FILES: dict[str, str] = {
    "train": "cifar10/cifar10_train_500per_class.npz",
    "test": "cifar10/cifar10_test_100per_class.npz",
}

#: The shared CIFAR-100 subset (our own disjoint split of 5,000 + 1,000 images, 50 / 10 per fine class).
CIFAR100_SUBSET_FILES: dict[str, str] = {
    "train": "cifar100/cifar100_train_50per_class.npz",
    "test": "cifar100/cifar100_test_10per_class.npz",
}

_CIFAR10_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
_CIFAR100_FILES = {"train": ["train"], "test": ["test"]}
_FOLDER_NAMES = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}


def _check_split(split: str) -> None:
    if split not in ("train", "test"):
        raise ValueError(f"split {split!r} is not allowed; use 'train' or 'test'.")


def _readonly(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def load_cifar10_subset(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Load the shared CIFAR-10 subset (5,000 train / 1,000 test images), cached per process.

    Args:
        split: ``"train"`` (500 per class) or ``"test"`` (100 per class).

    Returns:
        ``(x, y)``: read-only uint8 ``(N, 32, 32, 3)`` RGB images and int64 labels 0..9.

    Raises:
        FileNotFoundError: The npz is not in the data folder (the message names where it looked).

    Example:
        >>> x, y = load_cifar10_subset("test")  # doctest: +SKIP
        >>> x.shape, y.dtype  # doctest: +SKIP
        ((1000, 32, 32, 3), dtype('int64'))
    """
    _check_split(split)
    path = data_file(
        CIFAR10_SUBSET_FILES[split],
        f"the CIFAR-10 {split} subset",
    )
    return _load_npz(str(path.resolve()))


def load_cifar100_subset(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Load the shared CIFAR-100 subset (5,000 train / 1,000 test images, fine labels 0..99), cached per process.

    The data folder's "train" and "test" are its own disjoint split of the pooled official images (see its
    README), lossless pixels.

    Example:
        >>> x, y = load_cifar100_subset("test")  # doctest: +SKIP
        >>> x.shape, int(y.max())  # doctest: +SKIP
        ((1000, 32, 32, 3), 99)
    """
    _check_split(split)
    path = data_file(CIFAR100_SUBSET_FILES[split], f"the CIFAR-100 {split} subset")
    return _load_npz(str(path.resolve()))


@functools.lru_cache(maxsize=4)
def _load_npz(path: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        if "x" not in data or "y" not in data:
            raise ValueError(f"{path} must hold arrays 'x' and 'y', found {sorted(data.files)}.")
        x = np.ascontiguousarray(data["x"], dtype=np.uint8)
        y = np.asarray(data["y"]).astype(np.int64)
    if x.ndim != 4 or x.shape[1:] != (32, 32, 3) or y.shape != (x.shape[0],):
        raise ValueError(f"{path} must hold x (N, 32, 32, 3) and y (N,), got {x.shape} and {y.shape}.")
    return _readonly(x, y)


def _resolve_folder(folder: str | Path) -> tuple[Path, str]:
    """Find the CIFAR folder (the folder itself or its standard-named child) and whether it is 10 or 100."""
    base = Path(folder).expanduser()
    options = [base] + [base / name for name in _FOLDER_NAMES.values()]
    for cand in options:
        if (cand / "data_batch_1").is_file() or (cand / "test_batch").is_file():
            return cand, "cifar10"
        if (cand / "train").is_file() or (cand / "test").is_file():
            return cand, "cifar100"
    raise FileNotFoundError(
        f"No CIFAR python files found in {base} (or its cifar-10-batches-py / cifar-100-python subfolders): "
        "expected data_batch_1..5 and test_batch (CIFAR-10) or train and test (CIFAR-100), as unpacked from "
        "the official cifar-10-python.tar.gz / cifar-100-python.tar.gz."
    )


def detect_cifar_folder(folder: str | Path) -> str:
    """Return ``"cifar10"`` or ``"cifar100"`` for a standard CIFAR python folder, from the files present.

    Example:
        >>> detect_cifar_folder("~/data/cifar-10-batches-py")  # doctest: +SKIP
        'cifar10'
    """
    return _resolve_folder(folder)[1]


def load_cifar_batches_py(folder: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Read the standard ``cifar-10-batches-py`` or ``cifar-100-python`` folder without trusting the pickles.

    Each file is a pickle of a dict with ``b"data"`` (N x 3072 uint8, the R, G and B 32x32 planes in turn)
    and ``b"labels"`` (CIFAR-10) or ``b"fine_labels"`` (CIFAR-100). Only the numpy globals needed to rebuild
    an array are allowed; anything else raises :class:`~zcnas.data.safe_pickle.UnsafePickleError`.

    Args:
        folder: The folder itself, or a folder holding ``cifar-10-batches-py`` / ``cifar-100-python``.
        split: ``"train"`` (data_batch_1..5, or ``train``) or ``"test"`` (test_batch, or ``test``).

    Returns:
        ``(x, y)``: read-only uint8 ``(N, 32, 32, 3)`` RGB images and int64 labels, cached per process.

    Example:
        >>> x, y = load_cifar_batches_py("~/data/cifar-10-batches-py", "test")  # doctest: +SKIP
        >>> x.shape  # doctest: +SKIP
        (10000, 32, 32, 3)
    """
    _check_split(split)
    path, kind = _resolve_folder(folder)
    resolved = path.resolve()
    names = (_CIFAR10_FILES if kind == "cifar10" else _CIFAR100_FILES)[split]
    stamps = tuple((resolved / n).stat().st_mtime_ns if (resolved / n).is_file() else -1 for n in names)
    return _load_batches(str(resolved), kind, split, stamps)


@functools.lru_cache(maxsize=4)
def _load_batches(
    folder: str, kind: str, split: str, stamps: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    del stamps  # part of the cache key only
    names = (_CIFAR10_FILES if kind == "cifar10" else _CIFAR100_FILES)[split]
    missing = [n for n in names if not (Path(folder) / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"The {kind} folder {folder} lacks {', '.join(missing)}; unpack the full official archive there."
        )
    label_key = b"labels" if kind == "cifar10" else b"fine_labels"
    xs, ys = [], []
    for name in names:
        file = Path(folder) / name
        entry: Any = restricted_load(file, NUMPY_ARRAY_GLOBALS, encoding="bytes")
        if not isinstance(entry, dict) or b"data" not in entry or label_key not in entry:
            raise ValueError(
                f"{file} is not a CIFAR python batch: expected a dict with b'data' and {label_key!r}."
            )
        data = np.asarray(entry[b"data"])
        labels = np.asarray(entry[label_key], dtype=np.int64)
        if data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (data.shape[0],):
            raise ValueError(
                f"{file} has data of shape {data.shape} and {labels.shape[0]} labels; expected (N, 3072) and N."
            )
        xs.append(data.astype(np.uint8, copy=False).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        ys.append(labels)
    x = np.ascontiguousarray(np.concatenate(xs))
    y = np.concatenate(ys)
    return _readonly(x, y)
