"""Benchmark: seconds per 300-model tabular NB-201 search, per algorithm and variant, against plain random search.

Run:  .venv/bin/python benchmarks/bench_search.py [--budget 300] [--repeats 5] [--dataset cifar100]

Baseline, timed in the same run and interleaved with the others (so machine noise hits all alike): plain
random search, which only draws cells and looks them up. Every other entry prints its median seconds per
search over ``--repeats`` seeds and its ratio to that baseline. Warmup and move read the committed synflow
table (results/nb201_<dataset>_datafree_all), loaded once before timing.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from zcnas.benchmarks import get_benchmark
from zcnas.search.loop import run_one
from zcnas.search.proxy_source import TableSource, find_score_table, load_score_table
from zcnas.search.study import paper_variants
from zcnas.search.trainer import TabularTrainer
from zcnas.spaces import get_space


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dataset", default="cifar100")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    space = get_space("nb201")
    trainer = TabularTrainer(get_benchmark("nb201"), args.dataset)
    folder = find_score_table(space, args.dataset, "synflow")
    if folder is None:
        raise SystemExit(f"no committed synflow table for nb201 {args.dataset} under results/")
    proxy = TableSource(load_score_table(folder, "synflow", space, args.dataset), "synflow")
    entries = [(a, v) for a in ("random", "evolution", "reinforce", "predictor") for v in paper_variants(a)]
    times: dict[tuple[str, str], list[float]] = {(a, v.name): [] for a, v in entries}
    for seed in range(args.repeats):
        for algo, variant in entries:
            start = time.perf_counter()
            run_one(space, trainer, algo, budget=args.budget, seed=seed, proxy=proxy, warmup=variant.warmup,
                    move=variant.move)
            times[(algo, variant.name)].append(time.perf_counter() - start)
    base = statistics.median(times[("random", "plain")])
    print(f"budget {args.budget}, {args.repeats} seeds each, torch threads {args.threads}, dataset {args.dataset}")
    print(f"{'algo':10s} {'variant':12s} {'median s/search':>16s} {'ratio to plain random':>22s}")
    for (algo, name), values in times.items():
        med = statistics.median(values)
        print(f"{algo:10s} {name:12s} {med:16.3f} {med / base:22.1f}")


if __name__ == "__main__":
    main()
