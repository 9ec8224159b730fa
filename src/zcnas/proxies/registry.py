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
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

#: The paper's six proxies, the default set of ``compute_proxies``.
PAPER_PROXIES: tuple[str, ...] = ("grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov")

#: Modules holding the built-in proxies, imported on first use of the registry.
_BUILTIN_MODULES: tuple[str, ...] = (
    "zcnas.proxies.gradient_proxies",
    "zcnas.proxies.grasp",
    "zcnas.proxies.fisher",
    "zcnas.proxies.synflow",
    "zcnas.proxies.jacob_cov",
    "zcnas.proxies.size",
)

InputKind = Literal["data", "ones", "none"]


@dataclass(frozen=True)
class ProxySpec:
    """A registered proxy and its metadata.

    Attributes:
        name: registry name.
        fn: ``fn(ctx, **options) -> float``.
        needs_labels: True when the proxy uses the targets (the loss).
        bn: True when BatchNorm is kept (in train mode); False when the proxy removes it.
        input_kind: "data" (the minibatch), "ones" (an all-ones input), "none" (no input at all).
        dtype: "model" (the model's own dtype) or "float64".
        higher_is_better: the direction in which a larger score means a better architecture.
        data_free: the score depends only on the architecture and the init, not on the minibatch.
        size_only: the score depends only on the layers' shapes (not on weights or wiring), so cells a space
            gives the same ``size_key`` share it.
        passes: the shared passes the proxy reads (see ``zcnas.proxies.passes``).
        paper: where the proxy comes from.
        description: one line.
        defaults: the default options; every deviation from the reference is a named option here.
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
    paper: str = ""
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)


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
    paper: str = "",
    description: str = "",
    defaults: dict[str, Any] | None = None,
) -> Callable[[Callable[..., float]], Callable[..., float]]:
    """Decorator that registers a proxy function under ``name`` and returns the function unchanged.

    Example:
        >>> from zcnas.proxies.registry import register_proxy, unregister_proxy
        >>> @register_proxy("doc_example", needs_labels=False, input_kind="none", data_free=True)
        ... def doc_example(ctx):
        ...     return 1.0
        >>> unregister_proxy("doc_example")
    """
    if not name or not name.replace("_", "").isalnum():
        raise ValueError(f"proxy name {name!r} is not allowed; use letters, digits and underscores")

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
            paper=paper,
            description=description,
            defaults=dict(defaults or {}),
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
    *, needs_labels: bool | None = None, data_free: bool | None = None, paper_only: bool = False
) -> list[str]:
    """Names of the registered proxies, sorted, optionally filtered by their metadata.

    Example:
        >>> from zcnas.proxies.registry import list_proxies
        >>> list_proxies(paper_only=True)
        ['fisher', 'grad_norm', 'grasp', 'jacob_cov', 'snip', 'synflow']
    """
    _load_builtins()
    names = []
    for name, spec in _REGISTRY.items():
        if needs_labels is not None and spec.needs_labels != needs_labels:
            continue
        if data_free is not None and spec.data_free != data_free:
            continue
        if paper_only and name not in PAPER_PROXIES:
            continue
        names.append(name)
    return sorted(names)


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
        return list(PAPER_PROXIES)
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
