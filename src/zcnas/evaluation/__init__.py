"""zcnas.evaluation."""
