"""Benchmark: scoring whole spaces. Each figure comes with its baseline measured in the same run.

Run:  .venv/bin/python benchmarks/bench_scale.py [part ...] [--cells N] [--memory-cells 500]

Parts (default: all):
- datafree: synflow + params + flops. Baseline: plain one cell at a time (in-process, no dedup) on a seeded
  sample of ``--cells`` cells, extrapolated to 15,625 cells; then the whole space as ``zcnas score --all``
  runs it (2 worker processes, isomorphic cells deduplicated), timed end to end.
- six: the paper's six at batch 64 on ``--cells`` seeded cells: cells per hour in-process vs 2 worker
  processes (median of per-chunk rates).
- memory: the six at batch 64 on ``--memory-cells`` cells in one process; resident memory every 50 cells
  (flat means the last reading is within a few percent of the reading after the first 50).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from zcnas.proxies.registry import paper_proxies
from zcnas.scoring.runner import ScoreSettings, build_cell_model, cell_batch, score_cell, score_many
from zcnas.spaces import nb201

SIX = paper_proxies()


def rss_mib() -> float:
    """Current resident set size of this process in MiB (from /proc; peak from getrusage as fallback)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def datafree(cells: int, seed: int) -> None:
    settings = ScoreSettings(proxies=("synflow", "params", "flops"), seed=seed)
    archs = nb201.sample(cells, np.random.default_rng(seed))
    times = []
    for arch in archs:
        t = time.perf_counter()
        score_cell((arch, settings.proxies, settings))
        times.append(time.perf_counter() - t)
    per_cell = statistics.median(times)
    baseline = per_cell * nb201.NUM_ARCHS
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        summary = score_many(nb201.all_archs(), settings, Path(tmp) / "all", backend="process", workers=2,
                             quiet=True)
        wall = time.perf_counter() - t
    print(f"[datafree] baseline one cell at a time: median {per_cell:.3f} s/cell over {cells} cells "
          f"-> {baseline / 60:.1f} min for 15,625 cells (extrapolated)")
    print(f"[datafree] zcnas score --all, 2 workers, dedup: {wall / 60:.1f} min wall-clock "
          f"({summary.computed} cells computed, {summary.shared} rows shared); speed-up {baseline / wall:.2f}x")


def six(cells: int, seed: int) -> None:
    settings = ScoreSettings(proxies=SIX, seed=seed)
    archs = nb201.sample(2 * cells, np.random.default_rng(seed + 1))
    with tempfile.TemporaryDirectory() as tmp:
        rates = {}
        for name, backend, workers, chunk in (("in-process", "inline", 1, archs[:cells]),
                                              ("2 workers", "process", 2, archs[cells:])):
            t = time.perf_counter()
            score_many(chunk, settings, Path(tmp) / name, backend=backend, workers=workers, quiet=True)
            rates[name] = len(chunk) / (time.perf_counter() - t) * 3600
    print(f"[six] cells/hour at batch 64: in-process {rates['in-process']:.0f}, 2 workers {rates['2 workers']:.0f} "
          f"(ratio {rates['2 workers'] / rates['in-process']:.2f}x; {cells} cells each)")


def memory(cells: int, seed: int) -> None:
    from zcnas.proxies.compute import compute_proxy_results

    settings = ScoreSettings(proxies=SIX, seed=seed)
    archs = nb201.sample(cells, np.random.default_rng(seed + 2))
    readings = []
    for i, arch in enumerate(archs, start=1):
        net = build_cell_model(settings, arch)
        x, y = cell_batch(settings, arch)
        compute_proxy_results(net, x, y, list(SIX), errors="record")
        if i % 50 == 0:
            readings.append((i, rss_mib()))
            print(f"[memory] {i} cells: RSS {readings[-1][1]:.0f} MiB", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    first, last = readings[0][1], readings[-1][1]
    print("[memory] RSS MiB every 50 cells: " + ", ".join(f"{i}:{m:.0f}" for i, m in readings))
    print(f"[memory] after {readings[0][0]} cells {first:.0f} MiB, after {readings[-1][0]} cells {last:.0f} MiB "
          f"(growth {100 * (last - first) / first:+.1f}%); peak {peak:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", default=["datafree", "six", "memory"])
    parser.add_argument("--cells", type=int, default=40)
    parser.add_argument("--memory-cells", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for part in args.parts:
        if part not in ("datafree", "six", "memory"):
            sys.exit(f"unknown part {part!r}; use datafree, six or memory")
    if "datafree" in args.parts:
        datafree(args.cells, args.seed)
    if "six" in args.parts:
        six(args.cells, args.seed)
    if "memory" in args.parts:
        memory(args.memory_cells, args.seed)


if __name__ == "__main__":
    main()
