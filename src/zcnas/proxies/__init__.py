"""Zero-cost proxies: the registry, the shared passes and ``compute_proxies``.

Example:
    >>> from zcnas.proxies import list_proxies
    >>> "jacob_cov" in list_proxies()
    True
"""

from zcnas.proxies.compute import ProxyResult, compute_proxies, compute_proxy_results
from zcnas.proxies.registry import PAPER_PROXIES, ProxySpec, get_proxy, list_proxies, register_proxy

__all__ = [
    "PAPER_PROXIES",
    "ProxyResult",
    "ProxySpec",
    "compute_proxies",
    "compute_proxy_results",
    "get_proxy",
    "list_proxies",
    "register_proxy",
]
