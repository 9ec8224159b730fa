"""Search spaces: the ``SearchSpace`` protocol, its registry, and one module per space.

Each space module is the only place that knows its op names, codec, validity rules, canonical form, sampling,
neighbours and network. Built-in: ``nb201`` (NAS-Bench-201).

Example:
    >>> from zcnas.spaces import get_space, list_spaces
    >>> "nb201" in list_spaces()
    True
    >>> get_space("nb201").size
    15625
"""

from zcnas.spaces.base import (
    ModelOption,
    SearchSpace,
    encode_all,
    get_space,
    list_spaces,
    register_space,
    unregister_space,
)

__all__ = [
    "ModelOption",
    "SearchSpace",
    "encode_all",
    "get_space",
    "list_spaces",
    "register_space",
    "unregister_space",
]
