"""zcnas.search."""
