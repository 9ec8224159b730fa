"""zcnas: zero-cost proxies for lightweight neural architecture search.

Score any PyTorch network from one minibatch, score whole search spaces, and measure how well each proxy
ranks architectures against trained accuracies.

Example:
    >>> import torch, zcnas
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    >>> scores = zcnas.compute_proxies(model, torch.randn(8, 3, 2, 2), torch.arange(8) % 3,
    ...                                proxies=["grad_norm", "synflow"], seed=0)
    >>> sorted(scores)
    ['grad_norm', 'synflow']
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "compute_proxies",
    "correlate",
    "score",
    "compute_proxy_results",
    "get_proxy",
    "list_proxies",
    "register_proxy",
    "ProxyResult",
    "ProxySpec",
]


def __getattr__(name: str):
    # Lazy re-exports: importing zcnas stays cheap and has no side effects.
    if name in ("compute_proxies", "compute_proxy_results", "ProxyResult"):
        from zcnas.proxies import compute

        return getattr(compute, name)
    if name in ("score", "correlate"):
        from zcnas import pipeline

        return getattr(pipeline, name)
    if name in ("get_proxy", "list_proxies", "register_proxy", "ProxySpec"):
        from zcnas.proxies import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'zcnas' has no attribute {name!r}")
