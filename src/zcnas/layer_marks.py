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

__all__ = ["KEEP_WHEN_BN_REMOVED", "keep_when_batchnorm_removed", "keeps_batchnorm"]

#: Attribute set on a BatchNorm module that the reference keeps in its BatchNorm-free copy.
KEEP_WHEN_BN_REMOVED = "zcnas_keep_when_bn_removed"


def keep_when_batchnorm_removed(module: nn.Module) -> nn.Module:
    """Mark ``module`` (a BatchNorm) as kept by the reference's BatchNorm removal; returns it."""
    setattr(module, KEEP_WHEN_BN_REMOVED, True)
    return module


def keeps_batchnorm(module: nn.Module) -> bool:
    """Whether ``module`` carries the keep mark."""
    return bool(getattr(module, KEEP_WHEN_BN_REMOVED, False))
