"""zcnas.data."""
