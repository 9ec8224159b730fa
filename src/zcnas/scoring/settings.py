"""ScoreSettings: everything that decides a score, checked in full before anything is computed or written.

The settings name a space (any registered one) and carry the options its ``build_model`` declares; nothing
here knows a space's option names. ``store_config()`` is what a result folder records in ``config.json``:
the core settings, the space's model options as top-level keys, the thread count and the package versions.

Example:
    >>> s = ScoreSettings(proxies=("synflow",), space_options={"channels": 8})
    >>> s.dataset, s.data_source, s.space_options["cells_per_stage"]
    ('cifar10', 'cifar10', 5)
    >>> ScoreSettings(space_options={"channels": 0})
    Traceback (most recent call last):
    ...
    ValueError: channels=0 is not allowed; use an integer >= 1
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import torch

from zcnas import __version__
from zcnas.data.batches import DEFAULT_SOURCES, SOURCES, fixed_batch_seed
from zcnas.proxies.registry import get_proxy, paper_proxies, resolve_names, validate_options
from zcnas.spaces import get_space
from zcnas.spaces.base import SearchSpace

__all__ = ["BATCH_MODES", "MAX_SEED", "ScoreSettings", "check_int", "cell_seed"]

BATCH_MODES = ("per-cell", "fixed")
#: Seeds are stored as 64-bit signed integers.
MAX_SEED = 2**63 - 1


def check_int(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int, or one ValueError sentence naming it and the allowed range (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}={value!r} is not allowed; use an integer >= {minimum}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"in {minimum}..{maximum}" if maximum is not None else f">= {minimum}"
        raise ValueError(f"{name}={value} is not allowed; use an integer {bound}")
    return value


def _check_json_value(where: str, value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}={value!r} is not allowed; use a finite number")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_json_value(f"{where}.{k}", v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _check_json_value(where, v)


@dataclass(frozen=True)
class ScoreSettings:
    """Everything that decides a score; stored in the result folder's ``config.json``.

    Attributes:
        proxies: proxy names (may grow between runs of one folder); default the paper's six.
        space: a registered search space (``zcnas.spaces.list_spaces()``).
        dataset: the task the networks are built for (its number of classes); default the space's first.
        data_source: where minibatches come from (``zcnas.data.SOURCES``); default the dataset's subset in the
            data folder.
        data_folder: the official CIFAR python folder for the ``*-batches-py`` / ``*-python`` sources.
        batch_size: samples per minibatch (reference: 64 on NB-201).
        seed: run seed in 0..2**63-1; with the cell string it seeds each cell's init and minibatch.
        batch_mode: "per-cell" (each cell its own random batch, as the reference's shuffled loader) or "fixed".
        augment: the reference's training augmentation on the batch (random crop + flip).
        dtype: "float32" or "float64" for the model and batch (synflow is float64 regardless).
        space_options: the space's ``build_model`` options (defaults filled in and checked by the space).
        options: per-proxy options, e.g. {"jacob_cov": {"eigen_solver": "eigvalsh"}}.
        torch_threads: intra-op threads each cell is scored with (float summation order depends on it);
            None until the runner knows its executor.
    """

    proxies: tuple[str, ...] = ()
    space: str = "nb201"
    dataset: str | None = None
    data_source: str | None = None
    data_folder: str | None = None
    batch_size: int = 64
    seed: int = 0
    batch_mode: str = "per-cell"
    augment: bool = False
    dtype: str = "float32"
    space_options: dict[str, Any] = field(default_factory=dict)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    torch_threads: int | None = None

    def __post_init__(self) -> None:
        space = get_space(self.space)
        set_ = object.__setattr__
        set_(self, "proxies", tuple(resolve_names(list(self.proxies) or list(paper_proxies()))))
        dataset = self.dataset if self.dataset is not None else next(iter(space.datasets))
        space.num_classes(dataset)
        set_(self, "dataset", dataset)
        source = self.data_source
        if source is None:
            source = DEFAULT_SOURCES.get(dataset)
            if source is None and self.needs_data:
                raise ValueError(
                    f"the data folder has no minibatches for dataset {dataset!r}, which proxies "
                    f"{list(self.data_proxies)} need; pass a data_source ({', '.join(SOURCES)}) or choose "
                    "data-free proxies"
                )
            source = source or "synthetic"  # data-free proxies only: no minibatch is read
        if source not in SOURCES:
            raise ValueError(f"data_source={source!r} is not allowed; use one of: {', '.join(SOURCES)}")
        set_(self, "data_source", source)
        if self.batch_mode not in BATCH_MODES:
            raise ValueError(f"batch_mode={self.batch_mode!r} is not allowed; use one of: {', '.join(BATCH_MODES)}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype={self.dtype!r} is not allowed; use float32 or float64")
        if not isinstance(self.augment, bool):
            raise ValueError(f"augment={self.augment!r} is not allowed; use true or false")
        set_(self, "batch_size", check_int("batch_size", self.batch_size, 1))
        set_(self, "seed", check_int("seed", self.seed, 0, MAX_SEED))
        if self.torch_threads is not None:
            set_(self, "torch_threads", check_int("torch_threads", self.torch_threads, 1))
        set_(self, "space_options", space.check_options(self.space_options))
        options = {}
        for proxy, values in dict(self.options or {}).items():
            if proxy not in self.proxies:
                raise ValueError(
                    f"options given for proxy {proxy!r}, which is not among the proxies asked for: "
                    f"{', '.join(self.proxies)}"
                )
            if not isinstance(values, dict):
                raise ValueError(f"options for proxy {proxy!r} must be a dict of option -> value, not {values!r}")
            for key, value in values.items():
                _check_json_value(f"{proxy}.{key}", value)
            options[proxy] = validate_options(proxy, values)
        set_(self, "options", options)
        self._check_data(space)

    def _check_data(self, space: SearchSpace) -> None:
        if not self.needs_data:
            return
        source_classes = SOURCES[self.data_source]
        wanted = space.num_classes(self.dataset)
        if source_classes is not None and source_classes != wanted:
            raise ValueError(
                f"proxies {list(self.data_proxies)} need {self.dataset} data ({wanted} classes), but data_source "
                f"{self.data_source!r} has {source_classes}; choose a matching data_source or data-free proxies"
            )
        if self.data_source.endswith(("-batches-py", "-python")) and not self.data_folder:
            raise ValueError(f"data_source={self.data_source!r} needs data_folder=<the official CIFAR python folder>")

    @property
    def space_obj(self) -> SearchSpace:
        """The registered space these settings name."""
        return get_space(self.space)

    @property
    def num_classes(self) -> int:
        """Outputs of the network for ``dataset``."""
        return self.space_obj.num_classes(self.dataset)

    @property
    def data_proxies(self) -> tuple[str, ...]:
        """The asked proxies that read the minibatch."""
        return tuple(p for p in self.proxies if not get_proxy(p).data_free)

    @property
    def needs_data(self) -> bool:
        return bool(self.data_proxies)

    def replace(self, **changes: Any) -> ScoreSettings:
        """A copy with some fields changed (checked again)."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        values.update(changes)
        return ScoreSettings(**values)

    def store_config(self) -> dict[str, Any]:
        """The settings as a result folder records them: core keys, the space's options as top-level keys,
        the thread count (when known) and the package versions."""
        config: dict[str, Any] = {
            name: getattr(self, name)
            for name in ("space", "dataset", "data_source", "data_folder", "batch_size", "seed", "batch_mode",
                         "augment", "dtype")
        }
        config.update(self.space_options)
        config["proxies"] = list(self.proxies)
        config["options"] = {k: dict(v) for k, v in self.options.items()}
        if self.torch_threads is not None:
            config["torch_threads"] = self.torch_threads
        config["zcnas_version"] = __version__
        config["torch_version"] = torch.__version__.split("+")[0]
        return config


def cell_seed(settings: ScoreSettings, kind: str, cell: str) -> int:
    """The seed of one cell's ``kind`` ("init", "batch", "proxy"), from the run seed and the cell string."""
    return fixed_batch_seed(settings.seed, f"{kind}|{cell}")
