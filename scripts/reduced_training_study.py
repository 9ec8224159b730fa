"""The reduced-training study of docs/results/reduced_training.md: train, then tabulate and draw Figure 2.

Run (resumable; rerun the same line to continue a stopped or killed run):
    nice -n 10 .venv/bin/python scripts/reduced_training_study.py train --preset econas --cells 100 \
        --out results/reduced_training/econas
    nice -n 10 .venv/bin/python scripts/reduced_training_study.py figure --out results/reduced_training

The cells are the first ``--cells`` of the 1,000-cell seed-0 NB-201 sample (``zcnas score --sample 1000 --seed 0``
draws the same cells), so the zero-cost proxies in results/nb201_c10_*_s1000 can be correlated on exactly the
trained cells as well as on all 1,000. Until ``zcnas reduced-train`` is wired into the CLI this script is the
command; it only calls the library (``zcnas.training.reduced_train``, ``zcnas.report.cost_figure``).
"""

from __future__ import annotations

import argparse
import sys

from zcnas.pipeline import select_cells
from zcnas.training import reduced_train


def train(args: argparse.Namespace) -> int:
    cells = select_cells("nb201", sample=1000, seed=0)[: args.cells]
    summary = reduced_train("nb201", None, 0, args.preset, args.out, cells=cells, threads=args.threads,
                            time_limit=args.time_limit, quiet=args.quiet)
    print(summary, flush=True)
    return 0 if summary.finished else 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the first N cells of the 1,000-cell seed-0 sample with a preset")
    t.add_argument("--preset", required=True)
    t.add_argument("--cells", type=int, required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--time-limit", type=float, default=None, help="seconds; stop after the epoch past it")
    t.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "train":
        return train(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
