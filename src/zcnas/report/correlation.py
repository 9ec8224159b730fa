"""The correlation report of a result folder: a Markdown + CSV table and scatter plots, against NB-201.

Example:
    zcnas correlate runs/c10 --target cifar10_test_200ep     # writes runs/c10/report/{correlation.md,csv,png}
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def score_table(run: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """``(values, seconds, config)`` of a result folder: index arch, one column per proxy."""
    from zcnas.scoring.store import ResultStore

    store = ResultStore(run, read_only=True)
    return store.pivot("value"), store.pivot("seconds"), dict(store.config)


def correlation_summary(
    values: pd.DataFrame,
    seconds: pd.DataFrame | None,
    targets: pd.Series,
    proxies: list[str] | None = None,
    spread_size: int | None = None,
) -> pd.DataFrame:
    """The paper's rank metrics per proxy plus the vote, with seconds per cell (computed cells only) and, with
    ``spread_size``, the bootstrap standard deviation of Spearman on that many cells (``spearman_sd``)."""
    from zcnas.evaluation import align_by_index, correlation_table, spearman_spread

    table = correlation_table(values, targets, proxies=proxies)
    if spread_size:
        scores, aligned = align_by_index(values, targets)
        table["spearman_sd"] = [
            spearman_spread(scores[p], aligned, spread_size) if p in scores else float("nan") for p in table.index
        ]
    if seconds is not None:
        # shared rows carry 0 s; the cost of a proxy is its mean over the cells that computed it
        per_cell = seconds.where(seconds > 0).mean()
        table["sec_per_cell"] = [per_cell.get(p, float("nan")) for p in table.index]
    return table


def correlation_report(
    run: str | Path,
    target: str = "cifar10_test_200ep",
    report_dir: str | Path | None = None,
    benchmark_file: str | Path | None = None,
    title: str | None = None,
    spread_size: int | None = None,
) -> tuple[Path, str]:
    """Write ``correlation.md``, ``correlation.csv`` and ``scatter.png`` for ``run``; return (md path, table).

    Raises:
        KeyError: ``target`` is not a column of the benchmark table (the message lists them).
    """
    from zcnas.benchmarks import load_nb201
    from zcnas.report.markdown import markdown_table, write_report
    from zcnas.report.plots import scatter_grid

    run = Path(run)
    values, seconds, config = score_table(run)
    table = load_nb201(benchmark_file)
    if target not in table.metrics:
        raise KeyError(f"target {target!r} is not in the benchmark table; available: {', '.join(table.metrics)}")
    targets = table.column(target)
    summary = correlation_summary(values, seconds, targets, spread_size=spread_size)
    out = Path(report_dir) if report_dir else run / "report"
    out.mkdir(parents=True, exist_ok=True)
    summary.to_csv(out / "correlation.csv", float_format="%.6g")
    proxies = [p for p in summary.index if p != "vote"]
    image = scatter_grid(values, targets, out / "scatter.png", proxies=proxies,
                         title=f"{run.name}: proxy rank vs {target}")
    text = markdown_table(summary)
    settings = ", ".join(f"{k}={config[k]}" for k in ("dataset", "data_source", "batch_size", "batch_mode",
                                                      "augment", "reference_compatible", "seed") if k in config)
    sections = [
        ("Settings", f"{len(values)} architectures; {settings}; target `{target}`."),
        ("Rank correlation", text + "\n\nSigned values. `vote` row: rank-vote (mean rank of synflow, jacob_cov, "
         "snip); `pairwise_agreement` is the paper's pairwise concordance rate (not a Spearman). `n_nan`: cells "
         "dropped for a non-finite score. `sec_per_cell`: mean seconds over the cells that computed the proxy (shared copies excluded)."),
    ]
    path = write_report(out / "correlation.md", title or f"Correlation report: {run.name}", sections, [image])
    return path, text
