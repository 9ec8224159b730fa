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
import json
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from zcnas.atomic import atomic_open
from zcnas.benchmarks import get_benchmark
from zcnas.pipeline import select_cells
from zcnas.proxies.registry import get_proxy, paper_proxies
from zcnas.report.cost_figure import (
    cost_markdown,
    epoch_correlations,
    proxy_points,
    series_points,
    write_cost_figure,
)
from zcnas.scoring.store import ResultStore
from zcnas.training import TrainStore, reduced_train

TARGETS = ("cifar10_test_200ep", "cifar10_val_200ep")
#: NAS-Bench-201's 12-epoch schedule at full size: the test column trains on CIFAR-10's 50,000 training images,
#: the validation column (split cifar10-valid) on 25,000; one minibatch-equivalent is 64 images at full size.
BENCH_12EP = {"NB-201 12 epochs (test)": ("cifar10_test_12ep", 12 * 50_000 / 64),
              "NB-201 12 epochs (val)": ("cifar10_val_12ep", 12 * 25_000 / 64)}
PRESET_NAMES = {"econas": "econas", "econas+": "econas_plus", "full": "full"}


def train(args: argparse.Namespace) -> int:
    cells = select_cells("nb201", sample=1000, seed=0)[: args.cells]
    summary = reduced_train("nb201", None, 0, args.preset, args.out, cells=cells, threads=args.threads,
                            time_limit=args.time_limit, quiet=args.quiet)
    print(summary, flush=True)
    return 0 if summary.finished else 3


def export(args: argparse.Namespace) -> int:
    """Copy each run folder's finished rows and settings to RESULTS/<name>/ (epochs.parquet, config.json)."""
    for preset, name in PRESET_NAMES.items():
        run = Path(args.runs) / name
        if not (run / "config.json").is_file():
            continue
        store = TrainStore(run, read_only=True)
        rows = store.rows().sort_values(["cell", "epoch"]).reset_index(drop=True)
        folder = Path(args.out) / name
        with atomic_open(folder / "epochs.parquet", "wb") as fh:
            pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), fh)
        with atomic_open(folder / "config.json", "w", encoding="utf-8") as fh:
            json.dump(store.config, fh, indent=2, sort_keys=True)
            fh.write("\n")
        print(f"{preset}: {rows['cell'].nunique()} cells, {len(rows)} rows -> {folder}")
    return 0


def figure(args: argparse.Namespace) -> int:
    """Per-epoch Spearman of every exported preset, the benchmark's 12-epoch points, the zero-cost points."""
    out = Path(args.out)
    runs = {p: pd.read_parquet(out / n / "epochs.parquet") for p, n in PRESET_NAMES.items()
            if (out / n / "epochs.parquet").is_file()}
    table = get_benchmark("nb201")
    targets = pd.DataFrame({t: table.column(t) for t in TARGETS})
    trained = list(dict.fromkeys(runs["econas"]["cell"])) if "econas" in runs else []
    full_cells = set(runs["full"]["cell"]) if "full" in runs else set()
    curves = []
    for preset, rows in runs.items():
        curves.append(epoch_correlations(rows, targets, preset, spread=True))
        if full_cells and preset != "full":
            paired = rows[rows["cell"].isin(full_cells)]
            curves.append(epoch_correlations(paired, targets, f"{preset} on the full-size cells", spread=True))
    curves = pd.concat(curves, ignore_index=True)
    scores = ResultStore(args.scores, read_only=True).pivot("value")
    directions = {p: get_proxy(p).higher_is_better for p in scores.columns}
    six = [p for p in paper_proxies() if p in scores.columns]
    scored_trained = [c for c in trained if c in scores.index]
    for target in TARGETS:
        bench = series_points({label: (table.column(col), cost) for label, (col, cost) in BENCH_12EP.items()},
                              table.column(target), "benchmark")
        on_trained = proxy_points(scores.loc[scored_trained], table.column(target),
                                  directions, proxies=six, spread=True)
        on_all = proxy_points(scores, table.column(target), directions, spread=True)
        on_all["kind"] = on_all["kind"] + f" (all {len(scores)} scored cells)"
        points = pd.concat([bench, on_trained], ignore_index=True)
        short = target.replace("cifar10_", "").replace("_200ep", "")
        drawn = curves[~curves["preset"].str.contains("full-size cells")]
        write_cost_figure(drawn, points, out / f"figure2_{short}.png", target,
                          title=f"NB-201 CIFAR-10, CPU, 5,000 training images: Spearman with {target}\n"
                                f"zero-cost points on the {len(scored_trained)} cells trained with econas")
        keep = ["preset", "epoch", "cost", "n", f"spearman_{target}", f"spearman_sd_{TARGETS[0]}"] \
            if target == TARGETS[0] else ["preset", "epoch", "cost", "n", f"spearman_{target}"]
        text = cost_markdown(curves[[c for c in keep + ["seconds"] if c in curves.columns]],
                             pd.concat([points, on_all], ignore_index=True))
        with atomic_open(out / f"cost_table_{short}.md", "w", encoding="utf-8") as fh:
            fh.write(f"# Spearman with {target} against cost\n\n{text}\n")
        print(text)
    with atomic_open(out / "curves.csv", "w", encoding="utf-8") as fh:
        curves.to_csv(fh, index=False, float_format="%.6g")
    return 0


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
    e = sub.add_parser("export", help="copy the finished rows of each run folder into results/")
    e.add_argument("--runs", default="runs/reduced_training")
    e.add_argument("--out", default="results/reduced_training")
    f = sub.add_parser("figure", help="per-epoch Spearman, the 12-epoch and zero-cost points, the Figure 2 plot")
    f.add_argument("--out", default="results/reduced_training")
    f.add_argument("--scores", default="results/nb201_c10_faithful_s1000")
    args = parser.parse_args(argv)
    return {"train": train, "export": export, "figure": figure}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
