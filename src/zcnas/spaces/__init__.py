"""Search spaces: one module per space (op names, edge order, codec, canonical form, sampling, neighbours, models).

Example:
    >>> from zcnas.spaces import nb201
    >>> nb201.NUM_ARCHS
    15625
"""
