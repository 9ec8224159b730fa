"""zcnas.benchmarks."""
