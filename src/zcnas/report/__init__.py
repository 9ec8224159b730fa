"""zcnas.report."""
