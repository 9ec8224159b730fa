"""Kept for old imports: the one atomic-write helper lives in ``zcnas.atomic``."""

from zcnas.atomic import atomic_open

__all__ = ["atomic_open"]
