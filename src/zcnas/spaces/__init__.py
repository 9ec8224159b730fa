"""zcnas.spaces."""
