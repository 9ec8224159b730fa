"""Marks a model puts on its own layers for the proxies to read: a tiny convention both sides import.

A search-space model knows things about its layers that a proxy needs but cannot infer, e.g. that the reference
implementation keeps a BatchNorm when it "removes" BatchNorm (NAS-Bench-201's reduction blocks ignore
``use_bn``). The model marks the layer; the proxy reads the mark. Neither imports the other.

Example:
    >>> from torch import nn
    >>> bn = nn.BatchNorm2d(4)
    >>> keeps_batchnorm(bn)
    False
    >>> keep_when_batchnorm_removed(bn) is bn, keeps_batchnorm(bn)
    (True, True)
"""

from __future__ import annotations

from torch import nn

__all__ = [
    "KEEP_WHEN_BN_REMOVED",
    "MEMORY_BUDGET",
    "keep_when_batchnorm_removed",
    "keeps_batchnorm",
    "memory_budget",
    "set_memory_budget",
]

#: Attribute set on a BatchNorm module that the reference keeps in its BatchNorm-free copy.
KEEP_WHEN_BN_REMOVED = "zcnas_keep_when_bn_removed"
#: Attribute set on a whole model: the bytes one scoring call may use at its estimated peak.
MEMORY_BUDGET = "zcnas_memory_budget_bytes"


def keep_when_batchnorm_removed(module: nn.Module) -> nn.Module:
    """Mark ``module`` (a BatchNorm) as kept by the reference's BatchNorm removal; returns it."""
    setattr(module, KEEP_WHEN_BN_REMOVED, True)
    return module


def keeps_batchnorm(module: nn.Module) -> bool:
    """Whether ``module`` carries the keep mark."""
    return bool(getattr(module, KEEP_WHEN_BN_REMOVED, False))


def set_memory_budget(model: nn.Module, budget_bytes: float) -> nn.Module:
    """Mark ``model`` with the peak memory (bytes) that scoring it may use; returns it.

    A proxy call whose estimate exceeds it skips the model with a reason instead of running out of memory.

    Example:
        >>> net = set_memory_budget(nn.Linear(2, 2), 2**30)
        >>> memory_budget(net), memory_budget(nn.Linear(2, 2))
        (1073741824.0, None)
    """
    if not budget_bytes > 0:
        raise ValueError(f"memory budget {budget_bytes!r} is not allowed; use a positive number of bytes")
    setattr(model, MEMORY_BUDGET, float(budget_bytes))
    return model


def memory_budget(model: nn.Module) -> float | None:
    """The memory budget (bytes) ``model`` carries, or None."""
    value = getattr(model, MEMORY_BUDGET, None)
    return None if value is None else float(value)


#: Attribute set on the module whose output is the model's continuous input (a language model's embedding).
INPUT_ENTRY = "zcnas_input_entry"


def mark_input_entry(module: nn.Module) -> nn.Module:
    """Mark ``module`` as where the model's input enters: its output is what input-gradient proxies
    differentiate against (jacob_cov) and where all-ones probes are fed (synflow); returns it.

    A token model marks its embedding; without a mark, proxies take the first ``nn.Embedding`` of a model given
    integer inputs, and the raw input of a model given floating-point inputs.

    Example:
        >>> emb = nn.Embedding(10, 4)
        >>> is_input_entry(emb), is_input_entry(mark_input_entry(emb))
        (False, True)
    """
    setattr(module, INPUT_ENTRY, True)
    return module


def is_input_entry(module: nn.Module) -> bool:
    """Whether ``module`` carries the input-entry mark."""
    return bool(getattr(module, INPUT_ENTRY, False))


__all__ += ["INPUT_ENTRY", "is_input_entry", "mark_input_entry"]
