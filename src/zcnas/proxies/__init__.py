"""Zero-cost proxies: the registry, the shared passes and ``compute_proxies``.

Example:
    >>> from zcnas.proxies import list_proxies
    >>> "jacob_cov" in list_proxies()
    True
"""

from zcnas.proxies.compute import ProxyResult, compute_proxies, compute_proxy_results
from zcnas.proxies.registry import (
    PAPER_TAG,
    ProxySpec,
    get_proxy,
    list_proxies,
    paper_proxies,
    register_proxy,
)

__all__ = [
    "PAPER_TAG",
    "ProxyResult",
    "ProxySpec",
    "compute_proxies",
    "compute_proxy_results",
    "get_proxy",
    "list_proxies",
    "paper_proxies",
    "register_proxy",
]
