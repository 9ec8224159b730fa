"""zcnas.scoring."""
