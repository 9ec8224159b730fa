"""Everything that touches the optional ``pytorchcv`` package: its model builders and its model metadata.

``pytorchcv.model_provider`` imports every one of the package's ~150 model modules, and one of them
(``propainter_rfc``) imports torchvision, which cannot be installed beside the CPU torch build this project
pins. So we never import ``model_provider``: we read it as text (``ast``) to learn which module defines each
model builder, and import only that module (``pytorchcv.models.<module>``), which needs torch alone.

The package ships ``models/common/model_metainfos.csv``, one row per model with a published checkpoint:
``model_name``, ``net_weights`` (the number of trainable parameters, as the package's
``calc_net_weight_count`` counts them), ``error_value`` (the checkpoint's top-1 error on the model's test set,
in hundredths of a percent, written as the four digits that appear in the checkpoint's file name: ``0597``
means 5.97 %; ``NA`` where no checkpoint is published) and ``test_dataset`` (``in1k`` for ImageNet-1k, ``cf``
for the CIFAR-10, CIFAR-100 and SVHN models, whose names end in ``_cifar10``, ``_cifar100`` and ``_svhn``;
``NA`` for a few models without a checkpoint). The file is read where the package is installed, never copied.

Example:
    >>> from zcnas.spaces import _pytorchcv
    >>> meta = _pytorchcv.metainfo()                                 # doctest: +SKIP
    >>> meta.loc["resnet20_cifar10", ["net_weights", "error"]].tolist()  # doctest: +SKIP
    [272474, 5.97]
    >>> net = _pytorchcv.build("resnet20_cifar10", seed=0)            # doctest: +SKIP
"""

from __future__ import annotations

import ast
import csv
import functools
import importlib
import importlib.util
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

__all__ = [
    "INSTALL_HINT",
    "PACKAGE",
    "ZOOS",
    "ZooUnavailable",
    "available",
    "build",
    "builder",
    "builder_modules",
    "metainfo",
    "metainfo_path",
    "package_root",
    "version",
    "zoo_models",
]

PACKAGE = "pytorchcv"
INSTALL_HINT = "install the optional extra: pip install 'zcnas[zoo]' (the pytorchcv package)"

#: Our zoo names: how a model is recognised as one of the zoo's in ``model_metainfos.csv``.
#: CIFAR-10/100 and SVHN models share test_dataset "cf" and are told apart by their name's suffix.
ZOOS: dict[str, str] = {
    "cifar10": "name ends in _cifar10",
    "cifar100": "name ends in _cifar100",
    "svhn": "name ends in _svhn",
    "in1k": "test_dataset is in1k",
}


class ZooUnavailable(ImportError):
    """``pytorchcv`` is not installed (or its files are not where this module expects them)."""


def available() -> bool:
    """Whether ``pytorchcv`` is installed (found without importing it).

    Example:
        >>> isinstance(available(), bool)
        True
    """
    return importlib.util.find_spec(PACKAGE) is not None


def package_root() -> Path:
    """The installed package's folder; ZooUnavailable (an ImportError) when it is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise ZooUnavailable(f"the model zoo needs the pytorchcv package, which is not installed; {INSTALL_HINT}")
    return Path(spec.origin).parent


def version() -> str:
    """The installed pytorchcv version, read from its ``__init__.py`` (which holds only the version)."""
    tree = ast.parse((package_root() / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__version__" for t in node.targets):
            return str(ast.literal_eval(node.value))
    return "unknown"


def metainfo_path() -> Path:
    """Where the installed package keeps ``model_metainfos.csv``."""
    path = package_root() / "models" / "common" / "model_metainfos.csv"
    if not path.is_file():
        raise ZooUnavailable(f"pytorchcv {version()} has no {path.name} at {path}; {INSTALL_HINT}")
    return path


@functools.lru_cache(maxsize=1)
def builder_modules() -> dict[str, str]:
    """Model name -> the module that defines its builder, read from ``model_provider.py`` without importing it.

    ``model_provider`` holds ``from .models.<module> import <builder>, ...`` lines and a ``_models`` dict of
    ``'name': builder``; both are read with ``ast``.
    """
    source = package_root() / "model_provider.py"
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    module_of: dict[str, str] = {}
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("models."):
            for alias in node.names:
                module_of[alias.asname or alias.name] = f"{PACKAGE}.{node.module}"
        elif isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "_models" for t in node.targets):
            if isinstance(node.value, ast.Dict):
                for key, value in zip(node.value.keys, node.value.values):
                    if isinstance(key, ast.Constant) and isinstance(value, ast.Name):
                        names[str(key.value)] = value.id
    if not names:
        raise ZooUnavailable(f"could not read the model list of pytorchcv {version()} from {source}")
    return {name: module_of[fn] + ":" + fn for name, fn in names.items() if fn in module_of}


def builder(name: str) -> Callable[..., nn.Module]:
    """The builder function of model ``name``, importing only the module that defines it.

    Raises:
        ValueError: ``name`` is not a pytorchcv model (the message gives a close name when there is one).
    """
    modules = builder_modules()
    if name not in modules:
        close = [n for n in modules if n.startswith(name.split("_")[0])][:5]
        hint = f"; similar names: {', '.join(close)}" if close else ""
        raise ValueError(f"{name!r} is not a pytorchcv {version()} model{hint}")
    module, _, function = modules[name].partition(":")
    return getattr(importlib.import_module(module), function)


def build(name: str, *, seed: int | None = None, **kwargs: Any) -> nn.Module:
    """Build model ``name`` with random weights (``pretrained=False``, nothing downloaded), in train mode.

    The builders initialise with torch's global generator; here that runs inside ``torch.random.fork_rng``
    seeded with ``seed``, so the caller's global random state is untouched and the same seed gives the same
    weights. ``kwargs`` go to the builder (e.g. ``num_classes``).
    """
    make = builder(name)
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(int(seed) % (2**63))
        net = make(pretrained=False, **kwargs)
    return net.train()


def _error_percent(text: str) -> float:
    if text == "NA":
        return math.nan
    if len(text) != 4 or not text.isdigit():
        raise ValueError(f"pytorchcv's model_metainfos.csv has error_value {text!r}; expected four digits or NA")
    return int(text) / 100.0


def _zoo_of(name: str, test_dataset: str) -> str | None:
    if test_dataset == "in1k":
        return "in1k"
    if test_dataset in ("cf", "NA"):
        for zoo in ("cifar100", "cifar10", "svhn"):
            if name.endswith("_" + zoo):
                return zoo
    return None


@functools.lru_cache(maxsize=2)
def _read_metainfo(path: str, mtime_ns: int) -> pd.DataFrame:
    del mtime_ns  # cache key only
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    records: dict[str, dict[str, Any]] = {}
    for row in rows:
        name = row["model_name"]
        if name in records:  # the file lists a few models twice; the first row wins
            continue
        records[name] = {
            "net_weights": int(row["net_weights"]) if row["net_weights"] != "NA" else -1,
            "error": _error_percent(row["error_value"]),
            "test_dataset": row["test_dataset"],
            "img_size": int(row["img_size"]) if row["img_size"].isdigit() else -1,
            "zoo": _zoo_of(name, row["test_dataset"]),
        }
    frame = pd.DataFrame.from_dict(records, orient="index")
    frame.index.name = "model"
    return frame


def metainfo() -> pd.DataFrame:
    """``model_metainfos.csv`` of the installed package, one row per model (first row where one repeats).

    Columns: ``net_weights`` (int; -1 where the file says NA), ``error`` (top-1 error in %, NaN where NA),
    ``test_dataset`` (the file's code), ``img_size`` (the evaluation resolution, -1 where NA) and ``zoo``
    (``cifar10``, ``cifar100``, ``svhn``, ``in1k`` or None).
    """
    path = metainfo_path()
    return _read_metainfo(str(path), path.stat().st_mtime_ns).copy()


def zoo_models(zoo: str) -> list[str]:
    """The models of one zoo (see ``ZOOS``) in the file's order, keeping only names the package can build."""
    if zoo not in ZOOS:
        raise ValueError(f"zoo {zoo!r} is not known; use one of: {', '.join(ZOOS)}")
    meta = metainfo()
    buildable = builder_modules()
    return [name for name in meta.index[meta["zoo"] == zoo] if name in buildable]
