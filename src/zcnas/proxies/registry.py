"""The proxy registry: register a proxy with its metadata, list them, get one by name.

Each proxy is a function ``fn(ctx: ProxyContext, **options) -> float`` registered with the metadata that
declares its preconditions (labels needed, BatchNorm kept or removed, input kind, dtype) instead of each proxy
doing that by hand. The built-in proxies are registered the first time the registry is read, not at import.

Example:
    >>> from zcnas.proxies.registry import list_proxies, get_proxy
    >>> "synflow" in list_proxies()
    True
    >>> get_proxy("synflow").needs_labels
    False
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from zcnas.proxies.passes import SHARED_PASSES

#: The tag of the paper's six proxies (grad_norm, snip, grasp, fisher, synflow, jacob_cov): the default set.
PAPER_TAG = "paper"

#: Modules holding the built-in proxies, imported on first use of the registry.
_BUILTIN_MODULES: tuple[str, ...] = (
    "zcnas.proxies.gradient_proxies",
    "zcnas.proxies.grasp",
    "zcnas.proxies.fisher",
    "zcnas.proxies.synflow",
    "zcnas.proxies.jacob_cov",
    "zcnas.proxies.size",
    "zcnas.proxies.naswot",
    "zcnas.proxies.zico",
    "zcnas.proxies.meco",
    "zcnas.proxies.swap",
    "zcnas.proxies.zen",
    "zcnas.proxies.aznas",
    "zcnas.proxies.ensembles",
)

InputKind = Literal["data", "ones", "gaussian", "none"]


@dataclass(frozen=True)
class ProxySpec:
    """A registered proxy and its metadata.

    Attributes:
        name: registry name.
        fn: ``fn(ctx, **options) -> float``.
        needs_labels: True when the proxy uses the targets (the loss).
        bn: True when BatchNorm is kept (in train mode); False when the proxy removes it.
        input_kind: "data" (the minibatch), "ones" (an all-ones input), "gaussian" (random normal inputs of the
            minibatch's shape, drawn by the proxy), "none" (no input at all).
        dtype: "model" (the model's own dtype) or "float64".
        higher_is_better: the direction in which a larger score means a better architecture.
        data_free: the score depends only on the architecture and the init, not on the minibatch.
        size_only: the score depends only on the layers' shapes (not on weights or wiring), so cells a space
            gives the same ``size_key`` share it.
        passes: the shared passes the proxy reads (names from ``zcnas.proxies.passes.SHARED_PASSES``).
        tags: free labels for filtering; ``"paper"`` marks the paper's six.
        paper: where the proxy comes from.
        description: one line.
        defaults: the default options; every deviation from the reference is a named option here.
        choices: allowed values of string options, e.g. ``{"eigen_solver": ("eig", "eigvalsh")}``.
        check: optional ``check(options)`` raising ValueError for values that are of the right type but not
            allowed (e.g. a non-positive temperature); called by ``validate_options``.
        passes_for: optional ``passes_for(options) -> passes`` for a proxy whose options change the shared
            passes it reads (grasp's finite-difference Hessian needs no ``hessian_grad``); else ``passes``.
    """

    name: str
    fn: Callable[..., float]
    needs_labels: bool
    bn: bool = True
    input_kind: InputKind = "data"
    dtype: Literal["model", "float64"] = "model"
    higher_is_better: bool = True
    data_free: bool = False
    size_only: bool = False
    passes: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    paper: str = ""
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    choices: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    check: Callable[[dict[str, Any]], None] | None = None
    passes_for: Callable[[dict[str, Any]], tuple[str, ...]] | None = None

    def passes_with(self, options: Mapping[str, Any] | None = None) -> frozenset[str]:
        """The shared passes this proxy reads with ``options`` (defaults filled in).

        Example:
            >>> sorted(get_proxy("grasp").passes_with({"hessian": "central_difference"}))
            ['loss_grad', 'relu_masks']
        """
        if self.passes_for is None:
            return self.passes
        chosen = frozenset(self.passes_for({**self.defaults, **dict(options or {})}))
        unknown = sorted(chosen - SHARED_PASSES)
        if unknown:
            raise ValueError(f"proxy {self.name!r} asks for unknown shared pass(es) {unknown}")
        return chosen


_REGISTRY: dict[str, ProxySpec] = {}
_builtins_loaded = False


def register_proxy(
    name: str,
    *,
    needs_labels: bool,
    bn: bool = True,
    input_kind: InputKind = "data",
    dtype: Literal["model", "float64"] = "model",
    higher_is_better: bool = True,
    data_free: bool = False,
    size_only: bool = False,
    passes: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    paper: str = "",
    description: str = "",
    defaults: dict[str, Any] | None = None,
    choices: dict[str, tuple[Any, ...]] | None = None,
    check: Callable[[dict[str, Any]], None] | None = None,
    passes_for: Callable[[dict[str, Any]], tuple[str, ...]] | None = None,
) -> Callable[[Callable[..., float]], Callable[..., float]]:
    """Decorator that registers a proxy function under ``name`` and returns the function unchanged.

    The declared ``passes`` are checked here, so a misspelt pass is an error when the proxy module is
    imported, not a TypeError while scoring.

    Example:
        >>> from zcnas.proxies.registry import register_proxy, unregister_proxy
        >>> @register_proxy("doc_example", needs_labels=False, input_kind="none", data_free=True)
        ... def doc_example(ctx):
        ...     return 1.0
        >>> unregister_proxy("doc_example")
    """
    if not name or not name.replace("_", "").isalnum():
        raise ValueError(f"proxy name {name!r} is not allowed; use letters, digits and underscores")
    unknown = sorted(set(passes) - set(SHARED_PASSES))
    if unknown:
        raise ValueError(
            f"proxy {name!r} declares unknown shared pass(es) {unknown}; known: {', '.join(sorted(SHARED_PASSES))}"
        )
    if input_kind not in ("data", "ones", "gaussian", "none"):
        raise ValueError(
            f"proxy {name!r}: input_kind={input_kind!r} is not allowed; use 'data', 'ones', 'gaussian' or 'none'"
        )
    if dtype not in ("model", "float64"):
        raise ValueError(f"proxy {name!r}: dtype={dtype!r} is not allowed; use 'model' or 'float64'")
    stray = sorted(set(choices or {}) - set(defaults or {}))
    if stray:
        raise ValueError(f"proxy {name!r}: choices given for {stray}, which are not among its default options")

    def decorator(fn: Callable[..., float]) -> Callable[..., float]:
        if name in _REGISTRY:
            raise KeyError(f"a proxy named {name!r} is already registered")
        _REGISTRY[name] = ProxySpec(
            name=name,
            fn=fn,
            needs_labels=needs_labels,
            bn=bn,
            input_kind=input_kind,
            dtype=dtype,
            higher_is_better=higher_is_better,
            data_free=data_free or size_only,
            size_only=size_only,
            passes=frozenset(passes),
            tags=frozenset(tags),
            paper=paper,
            description=description,
            defaults=dict(defaults or {}),
            choices=dict(choices or {}),
            check=check,
            passes_for=passes_for,
        )
        return fn

    return decorator


def unregister_proxy(name: str) -> None:
    """Remove a proxy from the registry (for tests and user-defined proxies)."""
    _REGISTRY.pop(name, None)


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for module in _BUILTIN_MODULES:
            importlib.import_module(module)


def list_proxies(
    *,
    needs_labels: bool | None = None,
    data_free: bool | None = None,
    tag: str | None = None,
    paper_only: bool = False,
) -> list[str]:
    """Names of the registered proxies, sorted, optionally filtered by their metadata or a tag.

    Example:
        >>> from zcnas.proxies.registry import list_proxies
        >>> list_proxies(tag="paper")
        ['fisher', 'grad_norm', 'grasp', 'jacob_cov', 'snip', 'synflow']
    """
    _load_builtins()
    if paper_only:
        tag = PAPER_TAG
    names = []
    for name, spec in _REGISTRY.items():
        if needs_labels is not None and spec.needs_labels != needs_labels:
            continue
        if data_free is not None and spec.data_free != data_free:
            continue
        if tag is not None and tag not in spec.tags:
            continue
        names.append(name)
    return sorted(names)


def paper_proxies() -> tuple[str, ...]:
    """The paper's six, in the paper's order: grad_norm, snip, grasp, fisher, synflow, jacob_cov.

    Example:
        >>> paper_proxies()
        ('grad_norm', 'snip', 'grasp', 'fisher', 'synflow', 'jacob_cov')
    """
    _load_builtins()
    order = ("grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov")
    tagged = [name for name, spec in _REGISTRY.items() if PAPER_TAG in spec.tags]
    return tuple(sorted(tagged, key=lambda n: (order.index(n) if n in order else len(order), n)))


def get_proxy(name: str) -> ProxySpec:
    """The spec of a registered proxy; an unknown name raises ValueError listing the known ones.

    Example:
        >>> from zcnas.proxies.registry import get_proxy
        >>> get_proxy("fisher").bn
        True
    """
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ValueError(f"unknown proxy {name!r}; known proxies: {known}") from None


def resolve_names(proxies: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Turn a user's proxy selection into registered names: None -> the paper's six, "all" -> every proxy.

    Duplicates are dropped, order is kept; an unknown name raises ValueError listing the known ones.
    """
    if proxies is None:
        return list(paper_proxies())
    if isinstance(proxies, str):
        proxies = list_proxies() if proxies == "all" else [p.strip() for p in proxies.split(",") if p.strip()]
    if len(proxies) == 0:
        raise ValueError("no proxies selected; pass None for the paper's six or names from list_proxies()")
    names: list[str] = []
    for name in proxies:
        get_proxy(name)
        if name not in names:
            names.append(name)
    return names


def validate_options(name: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``options`` for proxy ``name`` checked against its declared defaults, types, choices and check.

    Every proxy option must be one of the proxy's ``defaults`` keys, of the default's type (an int is accepted
    for a float), finite when it is a number, among ``choices`` when those are declared, and pass the proxy's
    ``check``. Returns the options as given (defaults not filled in); a bad one raises one ValueError sentence.

    Example:
        >>> validate_options("jacob_cov", {"eigen_solver": "eigvalsh"})
        {'eigen_solver': 'eigvalsh'}
        >>> validate_options("jacob_cov", {"eigen_solver": "bogus"})
        Traceback (most recent call last):
        ...
        ValueError: jacob_cov option eigen_solver='bogus' is not allowed; use one of: 'eig', 'eigvalsh'
    """
    spec = get_proxy(name)
    options = dict(options or {})
    for key, value in options.items():
        if key not in spec.defaults:
            allowed = ", ".join(sorted(spec.defaults)) or "none"
            raise ValueError(f"proxy {name!r} has no option {key!r}; its options: {allowed}")
        default = spec.defaults[key]
        if not _same_kind(value, default):
            raise ValueError(
                f"{name} option {key}={value!r} is not allowed; use a {type(default).__name__} "
                f"like the default {default!r}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{name} option {key}={value!r} is not allowed; use a finite number")
        allowed_values = spec.choices.get(key)
        if allowed_values is not None and value not in allowed_values:
            raise ValueError(
                f"{name} option {key}={value!r} is not allowed; use one of: {', '.join(map(repr, allowed_values))}"
            )
    if spec.check is not None and options:
        spec.check({**spec.defaults, **options})
    return options


def _same_kind(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, int):
        return isinstance(value, int)
    if default is None:
        return True
    return isinstance(value, type(default))
