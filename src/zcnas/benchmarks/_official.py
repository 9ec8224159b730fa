"""Readers for the official NAS-Bench-201 / NATS-Bench (topology) files, without their packages.

Layout (learned from the public APIs ``nas_201_api`` and ``nats_bench``): the file is a dict with
``meta_archs`` (cell strings in official order), ``arch2infos`` ({index: {hp: ArchResults state}}, hp being
``"less"``/``"full"`` in NAS-Bench-201 and ``"12"``/``"200"`` in NATS-Bench) and ``evaluated_indexes``. An
ArchResults state is a dict with ``arch_str``, ``dataset_seed`` ({dataset: [seeds]}) and ``all_results``
({(dataset, seed): ResultsCount state}); a ResultsCount state holds ``epochs``, ``eval_acc1es``
({"<set>@<epoch>": accuracy}), ``train_times`` ({epoch: seconds}), ``params``, ``flop`` and ``latency``.
"""

from __future__ import annotations

import bz2
import contextlib
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zcnas.data.safe_pickle import (
    CONTAINER_GLOBALS,
    NUMPY_ARRAY_GLOBALS,
    NUMPY_SCALAR_GLOBALS,
    restricted_load,
)
from zcnas.spaces import nb201 as nb201_space

#: column stem -> (benchmark dataset name, evaluation set name)
ACCURACY_SPECS: dict[str, tuple[str, str]] = {
    "cifar10_test": ("cifar10", "ori-test"),
    "cifar10_val": ("cifar10-valid", "x-valid"),
    "cifar100_test": ("cifar100", "x-test"),
    "cifar100_val": ("cifar100", "x-valid"),
    "imagenet16_test": ("ImageNet16-120", "x-test"),
    "imagenet16_val": ("ImageNet16-120", "x-valid"),
}
#: column prefix -> benchmark dataset name, for the cost columns
COST_DATASETS: dict[str, str] = {
    "cifar10_valid": "cifar10-valid",
    "cifar10": "cifar10",
    "cifar100": "cifar100",
    "imagenet16": "ImageNet16-120",
}
#: hp key in the file -> column suffix
HP_SUFFIX: dict[str, str] = {"full": "200ep", "200": "200ep", "less": "12ep", "12": "12ep"}

_PICKLE_GLOBALS = [NUMPY_ARRAY_GLOBALS, NUMPY_SCALAR_GLOBALS, CONTAINER_GLOBALS]
_ARCHIVE_FILE = re.compile(r"^(\d+)\.pickle\.pbz2$")


def _nan_mean(values: list[float]) -> float:
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(vals)) if vals else math.nan


def _final_accuracy(record: Mapping[str, Any], eval_name: str) -> float | None:
    accs = record.get("eval_acc1es") or {}
    epochs = record.get("epochs")
    if isinstance(epochs, (int, np.integer)) and epochs > 0:
        key = f"{eval_name}@{int(epochs) - 1}"
        return float(accs[key]) if key in accs else None
    # no epoch count: take the last epoch recorded for this set
    found = [(int(k.rsplit("@", 1)[1]), v) for k, v in accs.items() if k.rsplit("@", 1)[0] == eval_name]
    return float(max(found)[1]) if found else None


def _records(arch_results: Mapping[str, Any], dataset: str) -> list[tuple[Any, Mapping[str, Any]]]:
    seeds = (arch_results.get("dataset_seed") or {}).get(dataset, [])
    all_results = arch_results.get("all_results") or {}
    return [(s, all_results[(dataset, s)]) for s in seeds if (dataset, s) in all_results]


def _consistent(values: list[tuple[Any, float]]) -> float:
    """Mean over seeds; where seeds disagree (a known legacy issue of params/flops), the seed-888 value wins."""
    nums = [(s, float(v)) for s, v in values if v is not None]
    if not nums:
        return math.nan
    if len({f"{v:.5f}" for _, v in nums}) > 1:
        for s, v in nums:
            if s == 888:
                return v
    return float(np.mean([v for _, v in nums]))


def extract_row(hp_results: Mapping[str, Any]) -> dict[str, float]:
    """The table's columns for one architecture from its ``{hp: ArchResults state}`` dict."""
    row: dict[str, float] = {}
    for hp, arch_results in hp_results.items():
        suffix = HP_SUFFIX.get(str(hp))
        if suffix is None or not isinstance(arch_results, Mapping):
            continue
        for stem, (dataset, eval_name) in ACCURACY_SPECS.items():
            accs = [_final_accuracy(rec, eval_name) for _, rec in _records(arch_results, dataset)]
            row[f"{stem}_{suffix}"] = _nan_mean(accs)
        for prefix, dataset in COST_DATASETS.items():
            recs = _records(arch_results, dataset)
            times = []
            for _, rec in recs:
                tt = rec.get("train_times")
                times.append(float(sum(tt.values())) if isinstance(tt, Mapping) and len(tt) else None)
            row[f"{prefix}_train_time_{suffix}"] = _nan_mean(times)
            if suffix == "200ep":
                row[f"{prefix}_params"] = _consistent([(s, rec.get("params")) for s, rec in recs])
                row[f"{prefix}_flops"] = _consistent([(s, rec.get("flop")) for s, rec in recs])
                lats = []
                for _, rec in recs:
                    lat = rec.get("latency")
                    if isinstance(lat, (list, tuple)) and lat:
                        lats.append(float(np.mean(lat)))
                lats = [v for v in lats if v > 0]
                row[f"{prefix}_latency"] = _nan_mean(lats)
    return row


def _column_order() -> list[str]:
    cols = []
    for suffix in ("200ep", "12ep"):
        cols += [f"{stem}_{suffix}" for stem in ACCURACY_SPECS]
    for prefix in COST_DATASETS:
        cols += [
            f"{prefix}_params",
            f"{prefix}_flops",
            f"{prefix}_latency",
            f"{prefix}_train_time_200ep",
            f"{prefix}_train_time_12ep",
        ]
    return cols


def build_frame(
    meta_archs: list[str], arch2infos: Mapping[int, Mapping[str, Any]], source: str
) -> pd.DataFrame:
    """One row per evaluated architecture: ``index``, ``arch_str`` and every column found."""
    rows = []
    for key in sorted(arch2infos, key=int):
        index = int(key)
        if not 0 <= index < len(meta_archs):
            raise ValueError(f"{source} has results for index {index}, outside 0..{len(meta_archs) - 1}.")
        hp_results = arch2infos[key]
        if not isinstance(hp_results, Mapping):
            raise ValueError(
                f"{source}: the results of index {index} are not a dict of hyper-parameter settings."
            )
        arch = meta_archs[index]
        for res in hp_results.values():
            stored = res.get("arch_str") if isinstance(res, Mapping) else None
            if isinstance(stored, str) and stored != arch:
                raise ValueError(
                    f"{source}: index {index} is {arch!r} in meta_archs but {stored!r} in its results."
                )
        rows.append({"index": index, "arch_str": arch, **extract_row(hp_results)})
    columns = ["index", "arch_str"] + [c for c in _column_order() if any(c in r for r in rows)]
    frame = pd.DataFrame(rows, columns=columns)
    keep = ["index", "arch_str"] + [c for c in columns[2:] if frame[c].notna().any()]
    return frame[keep]


def _torch_safe_globals() -> list[Any]:
    """numpy scalars (old and new module names) and their dtypes, which some result dicts hold."""
    try:
        scalar = np._core.multiarray.scalar  # type: ignore[attr-defined]
    except AttributeError:  # numpy 1.x
        scalar = np.core.multiarray.scalar  # type: ignore[attr-defined]
    safe: list[Any] = [
        scalar,
        (scalar, "numpy.core.multiarray.scalar"),
        (scalar, "numpy._core.multiarray.scalar"),
        np.dtype,
    ]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        for name in (
            "Float16DType",
            "Float32DType",
            "Float64DType",
            "Int8DType",
            "Int16DType",
            "Int32DType",
            "Int64DType",
            "UInt8DType",
            "UInt16DType",
            "UInt32DType",
            "UInt64DType",
            "BoolDType",
        ):
            cls = getattr(dtypes, name, None)
            if cls is not None:
                safe.append(cls)
    return safe


def _load_pth(path: Path) -> Any:
    import torch

    try:
        safe_globals = getattr(torch.serialization, "safe_globals", None)  # torch >= 2.5
        context = (
            safe_globals(_torch_safe_globals()) if safe_globals is not None else contextlib.nullcontext()
        )
        with context:
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError / RuntimeError with long texts
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"{path} could not be read safely with torch.load(weights_only=True) ({first}); "
            "is it a NAS-Bench-201 .pth benchmark file?"
        ) from err


def _load_pbz2(path: Path) -> Any:
    try:
        with bz2.open(path, "rb") as handle:
            return restricted_load(handle, _PICKLE_GLOBALS, source=str(path))
    except OSError as err:
        raise ValueError(f"{path} is not a bz2-compressed pickle ({err}).") from err


def _check_meta(meta: Any, source: str) -> list[str]:
    if not isinstance(meta, Mapping) or "meta_archs" not in meta:
        raise ValueError(
            f"{source} is not a NAS-Bench-201 / NATS-Bench topology file: it has no 'meta_archs'."
        )
    archs = list(meta["meta_archs"])

    bad = [a for a in archs if not nb201_space.is_valid(a)]
    if bad:
        raise ValueError(
            f"{source} holds non-topology architectures such as {bad[0]!r}; only the NAS-Bench-201 / "
            "NATS-Bench topology space (NATS-tss) is supported."
        )
    return archs


def read_official(path: Path) -> tuple[pd.DataFrame, int, str]:
    """Read an official file or archive folder into ``(frame, total, source)``."""
    source = str(path)
    if path.is_dir():
        meta_file = path / "meta.pickle.pbz2"
        if not meta_file.is_file():
            raise FileNotFoundError(
                f"{path} is a folder without meta.pickle.pbz2; pass a NATS-Bench topology archive folder "
                "(NATS-tss-v1_0-3ffb9-simple), its .pickle.pbz2 file, or a NAS-Bench-201 .pth file."
            )
        archs = _check_meta(_load_pbz2(meta_file), source)
        arch2infos: dict[int, Any] = {}
        for file in sorted(path.iterdir()):
            match = _ARCHIVE_FILE.match(file.name)
            if match:
                arch2infos[int(match.group(1))] = _load_pbz2(file)
        return build_frame(archs, arch2infos, source), len(archs), source
    if not path.is_file():
        raise FileNotFoundError(f"The official benchmark file {path} does not exist.")
    with open(path, "rb") as handle:
        magic = handle.read(3)
    data = _load_pbz2(path) if magic == b"BZh" else _load_pth(path)
    archs = _check_meta(data, source)
    arch2infos = data.get("arch2infos")
    if not isinstance(arch2infos, Mapping):
        raise ValueError(f"{source} has no 'arch2infos' dict of results.")
    total = int(data.get("total_archs", len(archs)))
    return build_frame(archs, arch2infos, source), max(total, len(archs)), source
