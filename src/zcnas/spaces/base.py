"""The ``SearchSpace`` protocol and the space registry.

A space is the only place that knows its cells: their string form (``encode`` / ``decode``), validity, size or
enumeration, seeded sampling, one-edit neighbours, the keys under which equal cells share data-free and
size-only scores, the per-sample input shape and the network of a cell (``build_model``) with its options
declared. Everything above the spaces layer (scoring, search, evaluation, the CLI) talks to a space only
through this protocol, so adding a space is one module with one decorated class, as a timm model is one
decorated function.

In the store and on the command line a cell is always its ``encode``\\d string; ``decode`` turns it back.

Example:
    >>> from zcnas.spaces import get_space, list_spaces
    >>> "nb201" in list_spaces()
    True
    >>> space = get_space("nb201")
    >>> space.size, space.input_shape
    (15625, (3, 32, 32))
    >>> [o.name for o in space.model_options]
    ['channels', 'cells_per_stage', 'reference_compatible']
"""

from __future__ import annotations

import importlib
import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, TypeVar

import numpy as np
from torch import nn

__all__ = [
    "RESERVED_OPTION_NAMES",
    "ModelOption",
    "SearchSpace",
    "get_space",
    "list_spaces",
    "register_space",
    "unregister_space",
]

#: Settings names that a space option may not take (they are the scoring settings' own keys).
RESERVED_OPTION_NAMES: frozenset[str] = frozenset(
    {
        "proxies", "space", "dataset", "data_source", "data_folder", "batch_size", "seed", "batch_mode",
        "augment", "dtype", "options", "torch_threads", "zcnas_version", "torch_version", "num_classes",
    }
)


@dataclass(frozen=True)
class ModelOption:
    """One declared option of a space's ``build_model`` (a name, its type, default and allowed values).

    Attributes:
        name: keyword of ``build_model``.
        kind: ``int``, ``float``, ``bool`` or ``str``.
        default: the benchmark's value.
        help: one line for the CLI and the docs.
        minimum: smallest allowed value for numbers.
        choices: allowed values for strings.

    Example:
        >>> ModelOption("channels", int, 16, "stem channels", minimum=1).check(0)
        Traceback (most recent call last):
        ...
        ValueError: channels=0 is not allowed; use an integer >= 1
    """

    name: str
    kind: type
    default: Any
    help: str = ""
    minimum: float | None = None
    choices: tuple[Any, ...] | None = None

    def check(self, value: Any) -> Any:
        """``value`` converted to the option's kind, or ValueError naming the value and what is allowed."""
        if self.kind is bool:
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            raise ValueError(f"{self.name}={value!r} is not allowed; use true or false")
        if self.kind is int:
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
                raise ValueError(f"{self.name}={value!r} is not allowed; use an integer{self._range()}")
            value = int(value)
        elif self.kind is float:
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ValueError(f"{self.name}={value!r} is not allowed; use a finite number{self._range()}")
            value = float(value)
        elif self.kind is str:
            if not isinstance(value, str):
                raise ValueError(f"{self.name}={value!r} is not allowed; use a string{self._choices()}")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"{self.name}={value!r} is not allowed; use {self._article()}{self._range()}")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{self.name}={value!r} is not allowed; use one of: {', '.join(map(str, self.choices))}")
        return value

    def _article(self) -> str:
        return "an integer" if self.kind is int else "a number"

    def _range(self) -> str:
        return "" if self.minimum is None else f" >= {self.minimum:g}"

    def _choices(self) -> str:
        return "" if self.choices is None else f" among {', '.join(map(str, self.choices))}"


Cell = Any
S = TypeVar("S", bound="SearchSpace")


class SearchSpace(ABC):
    """What every search space provides. Subclass it, fill the class attributes, register it.

    Class attributes:
        name: registry name (``zcnas score --space NAME``).
        description: one line.
        input_shape: the shape of one input sample, e.g. ``(3, 32, 32)``.
        input_dtype: ``"float"`` for images, ``"long"`` for token ids.
        datasets: the datasets its networks are built for, mapped to their number of classes (or vocabulary
            size); the first is the default.
        model_options: the options ``build_model`` takes besides ``num_classes`` and ``seed``.
        benchmark: the name of its ground-truth table in ``zcnas.benchmarks`` (None when it has none).

    A cell is whatever the space finds natural (a string, a tuple, a dict); ``encode`` gives its one canonical
    string, used as the key in score tables, and ``decode`` turns that string back into a cell.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    input_shape: ClassVar[tuple[int, ...]] = ()
    input_dtype: ClassVar[str] = "float"
    datasets: ClassVar[Mapping[str, int]] = {}
    model_options: ClassVar[tuple[ModelOption, ...]] = ()
    benchmark: ClassVar[str | None] = None

    # ------------------------------------------------------------------ codec and validity
    @abstractmethod
    def encode(self, cell: Cell) -> str:
        """The canonical string of a cell (also accepts that string); a bad cell raises ValueError saying why."""

    @abstractmethod
    def decode(self, text: str) -> Cell:
        """The cell of a string made by ``encode``; a bad string raises ValueError saying why."""

    def validate(self, cell: Cell) -> Cell:
        """The cell in its canonical form, or ValueError naming the rule it breaks."""
        return self.decode(self.encode(cell))

    def is_valid(self, cell: Cell) -> bool:
        """True when ``cell`` is a cell of this space."""
        try:
            self.encode(cell)
        except (ValueError, TypeError):
            return False
        return True

    def parse(self, text: str) -> str:
        """A cell written by a user (one line of a cell file) as its ``encode``\\d string; default: ``encode``.

        A space with an official numbering may also accept an index here.
        """
        return self.encode(text)

    # ------------------------------------------------------------------ size, enumeration, sampling
    @property
    def size(self) -> int | None:
        """The number of cells, or None when the space cannot count them cheaply."""
        return None

    def cells(self) -> Iterator[Cell]:
        """Every cell, in the space's enumeration order; NotImplementedError when it cannot enumerate."""
        raise NotImplementedError(f"space {self.name!r} cannot enumerate its cells; sample them instead")

    @abstractmethod
    def sample(self, n: int, rng: np.random.Generator, replace: bool = False) -> list[Cell]:
        """``n`` cells drawn uniformly with ``rng`` (without replacement unless ``replace``)."""

    # ------------------------------------------------------------------ local moves
    def neighbours(self, cell: Cell) -> list[Cell]:
        """The cells one edit away, in a fixed order; NotImplementedError when the space has none."""
        raise NotImplementedError(f"space {self.name!r} defines no neighbours")

    def mutate(self, cell: Cell, rng: np.random.Generator) -> Cell:
        """One random edit of ``cell``: by default a uniform choice among ``neighbours(cell)``."""
        options = self.neighbours(cell)
        if not options:
            raise ValueError(f"cell {self.encode(cell)!r} of space {self.name!r} has no neighbours to move to")
        return options[int(rng.integers(len(options)))]

    # ------------------------------------------------------------------ sharing keys
    def dedup_key(self, cell: Cell) -> str | None:
        """Cells with equal keys get equal scores from data-free proxies (same function, same weights).

        None (the default) means no sharing.
        """
        return None

    def size_key(self, cell: Cell) -> str | None:
        """Cells with equal keys get equal scores from size-only proxies (params, FLOPs); default ``dedup_key``."""
        return self.dedup_key(cell)

    # ------------------------------------------------------------------ models
    @abstractmethod
    def build_model(self, cell: Cell, num_classes: int, *, seed: int | None = None, **options: Any) -> nn.Module:
        """The network of ``cell`` with ``num_classes`` outputs, its init seeded by ``seed`` (global state untouched).

        ``options`` are the ones declared in ``model_options`` (missing ones take their defaults).
        """

    def check_options(self, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every declared option with its value (defaults filled in), checked; unknown names raise ValueError.

        Example:
            >>> from zcnas.spaces import get_space
            >>> get_space("nb201").check_options({"channels": 8})
            {'channels': 8, 'cells_per_stage': 5, 'reference_compatible': False}
        """
        options = dict(options or {})
        known = {o.name: o for o in self.model_options}
        unknown = sorted(set(options) - set(known))
        if unknown:
            allowed = ", ".join(known) or "none"
            raise ValueError(f"space {self.name!r} has no model option {unknown[0]!r}; its options: {allowed}")
        return {name: opt.check(options.get(name, opt.default)) for name, opt in known.items()}

    def num_classes(self, dataset: str) -> int:
        """The classes (or vocabulary size) of ``dataset``; an unknown dataset raises ValueError."""
        if dataset not in self.datasets:
            raise ValueError(
                f"dataset {dataset!r} is not available for space {self.name!r}; use one of: {', '.join(self.datasets)}"
            )
        return int(self.datasets[dataset])

    def __repr__(self) -> str:
        return f"<SearchSpace {self.name!r}>"


# ---------------------------------------------------------------------- registry

_REGISTRY: dict[str, Callable[[], SearchSpace]] = {}
_INSTANCES: dict[str, SearchSpace] = {}
_builtins_loaded = False

#: Modules holding the built-in spaces, imported the first time the registry is read (not at import).
_BUILTIN_MODULES: tuple[str, ...] = ("zcnas.spaces.nb201", "zcnas.spaces.zoo", "zcnas.spaces.nb101", "zcnas.spaces.nbnlp")


def register_space(cls: type[S]) -> type[S]:
    """Class decorator: register a ``SearchSpace`` subclass under its ``name`` (made on first ``get_space``).

    Example:
        >>> import numpy as np
        >>> from torch import nn
        >>> @register_space
        ... class Tiny(SearchSpace):
        ...     name = "doc_tiny"
        ...     input_shape = (3, 4, 4)
        ...     datasets = {"cifar10": 10}
        ...     def encode(self, cell): return str(int(cell))
        ...     def decode(self, text): return int(text)
        ...     def sample(self, n, rng, replace=False): return [int(v) for v in rng.integers(0, 3, n)]
        ...     def build_model(self, cell, num_classes, *, seed=None, **options):
        ...         return nn.Sequential(nn.Flatten(), nn.Linear(48, num_classes))
        >>> get_space("doc_tiny").encode(2)
        '2'
        >>> unregister_space("doc_tiny")
    """
    if not isinstance(cls, type) or not issubclass(cls, SearchSpace):
        raise TypeError(f"register_space takes a SearchSpace subclass, not {cls!r}")
    name = cls.name
    if not name or not all(ch.isalnum() or ch in "-_" for ch in name):
        raise ValueError(f"space name {name!r} is not allowed; use letters, digits, '-' and '_'")
    if name in _REGISTRY:
        raise KeyError(f"a space named {name!r} is already registered")
    if not cls.datasets:
        raise ValueError(f"space {name!r} declares no datasets; set datasets = {{'name': num_classes}}")
    if not cls.input_shape:
        raise ValueError(f"space {name!r} declares no input_shape")
    if cls.input_dtype not in ("float", "long"):
        raise ValueError(f"space {name!r}: input_dtype {cls.input_dtype!r} is not allowed; use 'float' or 'long'")
    for option in cls.model_options:
        if option.name in RESERVED_OPTION_NAMES:
            raise ValueError(f"space {name!r}: model option {option.name!r} clashes with a scoring setting")
        option.check(option.default)
    _REGISTRY[name] = cls
    return cls


def unregister_space(name: str) -> None:
    """Remove a space from the registry (for tests and user-defined spaces)."""
    _REGISTRY.pop(name, None)
    _INSTANCES.pop(name, None)


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for module in _BUILTIN_MODULES:
            importlib.import_module(module)


def list_spaces() -> list[str]:
    """Names of the registered spaces, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def get_space(name: str | SearchSpace) -> SearchSpace:
    """The registered space called ``name`` (one shared instance); an unknown name raises ValueError.

    Passing a ``SearchSpace`` instance returns it unchanged.
    """
    if isinstance(name, SearchSpace):
        return name
    _load_builtins()
    if name not in _REGISTRY:
        raise ValueError(f"unknown space {name!r}; available: {', '.join(sorted(_REGISTRY)) or 'none'}")
    if name not in _INSTANCES:
        _INSTANCES[name] = _REGISTRY[name]()
    return _INSTANCES[name]


def encode_all(space: SearchSpace, cells: Sequence[Cell]) -> list[str]:
    """The ``encode``\\d strings of ``cells``, duplicates dropped, first-seen order kept."""
    seen: dict[str, None] = {}
    for cell in cells:
        seen.setdefault(space.encode(cell), None)
    return list(seen)
