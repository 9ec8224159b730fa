"""The ``Searcher`` base (ask / tell, a seeded generator on the instance) and the search registry.

A searcher proposes the next cell to train (``ask``) and learns its result (``tell``). It never trains
anything itself and never sees a budget: the loop in ``zcnas.search.run`` trains what it asks through a
``Ledger`` until the budget of distinct trained models is spent. A cell asked for again comes back from the
record exactly as if it had been trained again (``TrainResult.new`` is False), uncounted.

Adding an algorithm is one module with one decorated subclass, as an Optuna sampler is one subclass:

    >>> import numpy as np
    >>> @register_searcher
    ... class FirstCells(Searcher):
    ...     name = "doc_first"
    ...     description = "train the space's cells in enumeration order"
    ...     def setup(self):
    ...         self._cells = iter(self.space.cells())
    ...     def ask(self):
    ...         return self.space.encode(next(self._cells))
    >>> from zcnas.spaces import get_space
    >>> make_searcher("doc_first", get_space("nb201"), seed=0).ask()
    '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|'
    >>> unregister_searcher("doc_first")

Variants: ``warmup=N`` (score N random cells with the proxy first) and ``move`` (let the proxy choose among
candidates). A searcher declares what it takes: ``move_kind`` is None (no move proposal), ``"flag"`` (on/off)
or ``"count"`` (a number of candidates); further options are ``ModelOption``\\s in ``options``.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

import numpy as np

from zcnas.search.proxy_source import ProxySource
from zcnas.search.trainer import TrainResult
from zcnas.spaces.base import ModelOption, SearchSpace

__all__ = [
    "Searcher",
    "get_searcher",
    "list_searchers",
    "make_searcher",
    "register_searcher",
    "unregister_searcher",
]

S = TypeVar("S", bound="Searcher")


class Searcher(ABC):
    """Base of every search algorithm.

    Args:
        space: the space searched.
        seed: an int (a fresh ``numpy.random.default_rng(seed)``) or a ``numpy.random.Generator``.
        proxy: the proxy source that warmup and move read (required when either is on).
        warmup: score this many random cells first (0: off).
        move: the move proposal: True/False for ``move_kind="flag"``, a candidate count for ``"count"``,
            None for off.
        options: the algorithm's own options (``options`` declares them; defaults filled in, checked).

    Subclasses set ``name``, ``description``, optionally ``move_kind`` / ``options`` / ``warmup_trained``,
    put their start-up work in ``setup`` and implement ``ask``; ``tell`` records every result in
    ``self.history`` (override it to learn, calling ``super().tell``).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    move_kind: ClassVar[str | None] = None
    options: ClassVar[tuple[ModelOption, ...]] = ()

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int | np.random.Generator = 0,
        proxy: ProxySource | None = None,
        warmup: int = 0,
        move: bool | int | None = None,
        **options: Any,
    ) -> None:
        self.space = space
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.warmup, self.move = check_variant(type(self), warmup, move)
        if (self.warmup or self.move) and proxy is None:
            raise ValueError(f"{self.name}: warmup and move proposal need a proxy source; pass proxy=...")
        self.proxy = proxy
        self.settings = check_options(type(self), options)
        self.history: list[TrainResult] = []
        self._trained: set[str] = set()
        self.setup()

    def setup(self) -> None:  # noqa: B027 (optional hook, not abstract)
        """Start-up work (warmup scoring, the first population, the policy); called at the end of ``__init__``."""

    @classmethod
    def warmup_trained(cls, warmup: int, move: bool | int | None, options: Mapping[str, Any]) -> int:
        """How many trained models the warmup fixes before the algorithm proper starts (budget check)."""
        return 0

    @abstractmethod
    def ask(self) -> str:
        """The encoded cell to train next."""

    def tell(self, result: TrainResult) -> None:
        """Learn the result of the cell last asked for."""
        self.history.append(result)
        self._trained.add(result.cell)

    @property
    def trained(self) -> set[str]:
        """The cells told so far (do not modify)."""
        return self._trained

    def random_untrained(self, trained: set[str] | None = None) -> str:
        """A uniform random cell not in ``trained`` (default: the cells told so far)."""
        trained = self.trained if trained is None else trained
        size = self.space.size
        for _ in range(1000):
            cell = self.space.encode(self.space.sample(1, self.rng)[0])
            if cell not in trained:
                return cell
        if size is None:
            raise RuntimeError(f"{self.name}: 1000 random cells of space {self.space.name!r} were all trained")
        left = [c for c in (self.space.encode(x) for x in self.space.cells()) if c not in trained]
        if not left:
            raise RuntimeError(f"{self.name}: every cell of space {self.space.name!r} is trained")
        return left[int(self.rng.integers(len(left)))]

    def __repr__(self) -> str:
        return f"<Searcher {self.name!r} warmup={self.warmup} move={self.move!r}>"


def check_variant(cls: type[Searcher], warmup: Any, move: Any) -> tuple[int, bool | int | None]:
    """``(warmup, move)`` checked for ``cls``; a bad value raises ValueError naming it and what is allowed."""
    if isinstance(warmup, bool) or not isinstance(warmup, (int, np.integer)) or warmup < 0:
        raise ValueError(f"warmup={warmup!r} is not allowed; use an integer >= 0 (0: no warmup)")
    warmup = int(warmup)
    if move is None or move is False:
        return warmup, None
    if cls.move_kind is None:
        raise ValueError(f"algo {cls.name!r} has no move proposal; leave move unset")
    if cls.move_kind == "flag":
        if move is not True:
            raise ValueError(f"move={move!r} is not allowed for algo {cls.name!r}; use true or false")
        return warmup, True
    if isinstance(move, bool) or not isinstance(move, (int, np.integer)) or move < 2:
        raise ValueError(f"move={move!r} is not allowed for algo {cls.name!r}; use a candidate count >= 2")
    return warmup, int(move)


def check_options(cls: type[Searcher], options: Mapping[str, Any]) -> dict[str, Any]:
    """Every option ``cls`` declares, defaults filled in and checked; an unknown name raises ValueError."""
    known = {o.name: o for o in cls.options}
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"algo {cls.name!r} has no option {unknown[0]!r}; its options: {', '.join(known) or 'none'}")
    return {name: opt.check(options.get(name, opt.default)) for name, opt in known.items()}


# ---------------------------------------------------------------------- registry

_REGISTRY: dict[str, type[Searcher]] = {}
_builtins_loaded = False
_BUILTIN_MODULES: tuple[str, ...] = (
    "zcnas.search.random_search",
    "zcnas.search.evolution",
    "zcnas.search.reinforce",
    "zcnas.search.predictor",
)


def register_searcher(cls: type[S]) -> type[S]:
    """Class decorator: register a ``Searcher`` subclass under its ``name``."""
    if not isinstance(cls, type) or not issubclass(cls, Searcher):
        raise TypeError(f"register_searcher takes a Searcher subclass, not {cls!r}")
    if not cls.name or not all(ch.isalnum() or ch in "-_" for ch in cls.name):
        raise ValueError(f"algo name {cls.name!r} is not allowed; use letters, digits, '-' and '_'")
    if cls.name in _REGISTRY:
        raise KeyError(f"an algo named {cls.name!r} is already registered")
    if cls.move_kind not in (None, "flag", "count"):
        raise ValueError(f"algo {cls.name!r}: move_kind {cls.move_kind!r} is not allowed; use None, 'flag' or 'count'")
    for option in cls.options:
        option.check(option.default)
    _REGISTRY[cls.name] = cls
    return cls


def unregister_searcher(name: str) -> None:
    """Remove an algorithm from the registry (for tests and user-defined algorithms)."""
    _REGISTRY.pop(name, None)


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for module in _BUILTIN_MODULES:
            importlib.import_module(module)


def list_searchers() -> list[str]:
    """Names of the registered algorithms, sorted.

    Example:
        >>> list_searchers()
        ['evolution', 'predictor', 'random', 'reinforce']
    """
    _load_builtins()
    return sorted(_REGISTRY)


def get_searcher(name: str) -> type[Searcher]:
    """The registered algorithm ``name``; an unknown name raises ValueError listing the known ones."""
    _load_builtins()
    if name not in _REGISTRY:
        raise ValueError(f"unknown algo {name!r}; use one of: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def make_searcher(name: str, space: SearchSpace, **kwargs: Any) -> Searcher:
    """A new instance of the registered algorithm ``name`` on ``space`` (see ``Searcher`` for the arguments)."""
    return get_searcher(name)(space, **kwargs)
