"""Frozen reference samples of the registered ensembles' members (generated; do not edit by hand).

Written by ``benchmarks/ensemble_study.py --freeze``; see docs/results/ensemble.md for the sample and settings.
"""

REFERENCE_NOTE = "no frozen reference yet"

#: ensemble name -> member proxy -> the member's values on the reference cells.
REFERENCES: dict[str, dict[str, tuple[float, ...]]] = {}
