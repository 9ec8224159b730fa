"""compute_proxies: score any PyTorch model from one minibatch with the registered proxies.

Example:
    >>> import torch, zcnas
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
    ...                           torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2))
    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = torch.randn(8, 3, 8, 8, generator=g), torch.randint(0, 2, (8,), generator=g)
    >>> scores = zcnas.compute_proxies(net, x, y, seed=0)
    >>> sorted(scores) == sorted(zcnas.list_proxies(paper_only=True))
    True
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Literal, Mapping, Sequence

import torch
from torch import nn

from zcnas.proxies.passes import (
    DEFAULT_LAYER_TYPES,
    NotFinite,
    ProxyContext,
    default_loss,
    input_entry,
    model_device_and_dtype,
)
from zcnas.proxies.registry import get_proxy, resolve_names, validate_options

#: Integer input dtypes taken as token ids (their model starts with an embedding).
TOKEN_DTYPES: tuple[torch.dtype, ...] = (torch.int64, torch.int32)


@dataclass(frozen=True)
class ProxyResult:
    """One proxy's outcome: ``status`` is "ok", "nan" (with ``reason``) or "error" (with the message)."""

    value: float
    status: Literal["ok", "nan", "error"]
    reason: str
    seconds: float


def _validate(model: Any, inputs: Any, targets: Any) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if not isinstance(inputs, torch.Tensor) or not (inputs.is_floating_point() or inputs.dtype in TOKEN_DTYPES):
        kind = type(inputs).__name__ if not isinstance(inputs, torch.Tensor) else f"tensor of {inputs.dtype}"
        raise ValueError(
            "inputs must be a torch.Tensor with a batch dimension, of floats (images, features) or of int64 / int32 "
            f"token ids; got {kind}"
        )
    if inputs.dim() < 2 or inputs.shape[0] < 1:
        raise ValueError(f"inputs must have shape (batch, ...) with batch >= 1; got shape {tuple(inputs.shape)}")
    if targets is not None:
        if not isinstance(targets, torch.Tensor):
            raise ValueError(f"targets must be a torch.Tensor or None; got {type(targets).__name__}")
        if targets.dim() == 0 or targets.shape[0] != inputs.shape[0]:
            raise ValueError(
                f"targets must have one entry per input: inputs have batch {inputs.shape[0]}, "
                f"targets have shape {tuple(targets.shape)}"
            )


def compute_proxy_results(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor | None = None,
    proxies: str | Sequence[str] | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    seed: int | None = None,
    *,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    share_passes: bool = True,
    layer_types: tuple[type[nn.Module], ...] = DEFAULT_LAYER_TYPES,
    errors: Literal["raise", "record"] = "raise",
) -> dict[str, ProxyResult]:
    """Score ``model`` with each proxy; return a ``ProxyResult`` (value, status, reason, seconds) per name.

    Args:
        model: any ``torch.nn.Module`` returning logits; it comes back untouched (weights, mode, device,
            requires_grad, hooks): every pass runs on a copy.
        inputs: one minibatch, shape (batch, ...); moved to the model's device and floating dtype. Integer
            token ids (int64 / int32, e.g. (batch, time) for a language model) keep their dtype: such a model's
            input enters at its embedding (``zcnas.layer_marks.mark_input_entry``, else its first
            ``nn.Embedding``), which is where input-gradient and all-ones proxies read and feed it.
        targets: class indices (or whatever ``loss_fn`` takes); needed by proxies with ``needs_labels``. For a
            language model, next-token ids of shape (batch, time) against logits (batch, time, vocab).
        proxies: names, a comma-separated string, "all", or None for the paper's six.
        loss_fn: ``loss_fn(logits, targets)``; default cross-entropy.
        seed: seeds the random numbers used inside (dropout, random inputs) without touching global state.
        options: per-proxy options, e.g. ``{"jacob_cov": {"eigen_solver": "eigvalsh"}}``.
        share_passes: True computes the shared forward/backward once for all proxies; False gives each proxy
            its own copy and passes, as the reference does (same values, slower).
        layer_types: the layer kinds whose weights are scored (reference: Conv2d and Linear).
        errors: "raise" re-raises a proxy's exception; "record" returns it as status "error".

    Returns:
        ``{name: ProxyResult}`` in the order asked. Non-finite scores are NaN with a reason, never a crash.
        A proxy's seconds are its own time plus an equal share of the passes it shares.
    """
    names = resolve_names(proxies)  # type: ignore[arg-type]
    _validate(model, inputs, targets)
    if not inputs.is_floating_point():
        input_entry(model, inputs)  # token ids: the model must say where they enter (else one clear error)
    options = dict(options or {})
    for key in options:
        if key not in names:
            raise ValueError(f"options given for {key!r}, which is not among the proxies asked for: {names}")
        validate_options(key, options[key])
    specs = [get_proxy(name) for name in names]
    missing = [s.name for s in specs if s.needs_labels and targets is None]
    if missing:
        raise ValueError(
            f"proxies {missing} need targets (labels); pass targets=... or choose label-free proxies"
        )
    if not any(p.is_floating_point() for p in model.parameters()):
        needs_weights = [s.name for s in specs if not s.size_only]
        if needs_weights:
            raise ValueError(
                f"the model has no floating-point parameters, so {needs_weights} (which read weights or their "
                "gradients) are undefined for it; score it with params or flops, or give it trainable layers"
            )
    device, dtype = model_device_and_dtype(model)
    inputs = inputs.detach().to(device=device, dtype=dtype if inputs.is_floating_point() else inputs.dtype)
    if targets is not None:
        targets = targets.detach().to(device)
    loss = loss_fn or default_loss

    def make_context(selected) -> ProxyContext:
        needs = frozenset().union(*(s.passes_with(options.get(s.name)) for s in selected))
        return ProxyContext(model, inputs, targets, loss, needs, tuple(layer_types))

    shared = make_context(specs) if share_passes else None
    results: dict[str, ProxyResult] = {}
    own_seconds: dict[str, float] = {}
    contexts: dict[str, ProxyContext] = {}
    with _seeded(seed, device):
        for spec in specs:
            ctx = shared if shared is not None else make_context([spec])
            contexts[spec.name] = ctx
            ctx.current_proxy = spec.name
            before = sum(ctx.pass_seconds.values())
            start = time.perf_counter()
            try:
                value = float(spec.fn(ctx, **{**spec.defaults, **options.get(spec.name, {})}))
                status, reason = ("ok", "") if math.isfinite(value) else ("nan", f"{spec.name} is {value}")
                if status == "nan":
                    value = math.nan
            except NotFinite as exc:
                value, status, reason = math.nan, "nan", str(exc)
            except Exception as exc:
                if errors == "raise":
                    raise
                value, status, reason = math.nan, "error", f"{type(exc).__name__}: {exc}"
            elapsed = time.perf_counter() - start
            own_seconds[spec.name] = elapsed - (sum(ctx.pass_seconds.values()) - before)
            results[spec.name] = ProxyResult(value, status, reason, 0.0)

    # Charge each shared pass equally to the proxies that read it.
    for ctx in {id(c): c for c in contexts.values()}.values():
        for key, readers in ctx.readers.items():
            for name in readers:
                own_seconds[name] += ctx.pass_seconds.get(key, 0.0) / len(readers)
    return {
        name: ProxyResult(r.value, r.status, r.reason, max(own_seconds[name], 0.0)) for name, r in results.items()
    }


def compute_proxies(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor | None = None,
    proxies: str | Sequence[str] | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    seed: int | None = None,
    **kwargs: Any,
) -> dict[str, float]:
    """Score ``model`` on one minibatch; return ``{proxy name: float}`` (NaN where a score is undefined).

    Same arguments as ``compute_proxy_results``; ``proxies=None`` means the paper's six
    (grad_norm, snip, grasp, fisher, synflow, jacob_cov).

    Example:
        >>> import torch, zcnas
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
        >>> s = zcnas.compute_proxies(net, torch.ones(4, 3, 2, 2), torch.tensor([0, 1, 2, 0]), ["params"])
        >>> s["params"]
        39.0
    """
    results = compute_proxy_results(model, inputs, targets, proxies, loss_fn, seed, **kwargs)
    return {name: r.value for name, r in results.items()}


@contextmanager
def _seeded(seed: int | None, device: torch.device) -> Iterator[None]:
    """Seed torch's default generators inside the block and restore them after (no global state leaks)."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(int(seed))
        yield
