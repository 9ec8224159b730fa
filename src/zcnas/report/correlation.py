"""The correlation report: a Markdown + CSV table and scatter plots, drawn from tables it is given.

It opens no store and no benchmark: ``zcnas.pipeline.correlate`` loads those and calls it.

Example:
    >>> import tempfile, pandas as pd
    >>> from pathlib import Path
    >>> idx = [f"c{i}" for i in range(6)]
    >>> values = pd.DataFrame({"synflow": range(6)}, index=idx, dtype=float)
    >>> target = pd.Series(range(6), index=idx, dtype=float)
    >>> summary = pd.DataFrame({"spearman": [1.0]}, index=pd.Index(["synflow"], name="proxy"))
    >>> path = write_correlation_report(summary, values, target, Path(tempfile.mkdtemp()), target_name="acc")
    >>> path.name, (path.parent / "correlation.csv").is_file()
    ('correlation.md', True)
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from zcnas.atomic import atomic_open
from zcnas.report.markdown import markdown_table, write_report
from zcnas.report.plots import scatter_grid

__all__ = ["write_correlation_report"]

_NOTES = (
    "Signed values, each proxy and the target read in their own direction (a positive value ranks well). "
    "`vote` row: rank-vote (mean rank of synflow, jacob_cov, snip); `pairwise_agreement` is the paper's pairwise "
    "concordance rate (not a Spearman). `n_nan`: cells dropped for a non-finite score. `sec_per_cell`: mean "
    "seconds over the cells that computed the proxy (shared copies excluded)."
)


def write_correlation_report(
    summary: pd.DataFrame,
    values: pd.DataFrame,
    targets: pd.Series,
    out: str | os.PathLike[str],
    *,
    target_name: str,
    title: str | None = None,
    settings_line: str = "",
    extra_images: tuple[Path, ...] = (),
) -> Path:
    """Write ``correlation.md``, ``correlation.csv`` and ``scatter.png`` into ``out``; return the Markdown path.

    Args:
        summary: one row per proxy (``zcnas.evaluation.correlation_summary``).
        values: the scores, one column per proxy, indexed by cell.
        targets: the ground truth, indexed by cell.
        out: the report folder (created when missing; must not be a file).
        target_name: the target's name, for titles.
        title: the report title.
        settings_line: one line describing the run.
        extra_images: more figures to embed (already written).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"report folder {out} is a file; pass a folder (or a path that does not exist yet)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot create the report folder {out}: {exc.strerror or exc}") from exc
    with atomic_open(out / "correlation.csv", "w", encoding="utf-8") as fh:
        summary.to_csv(fh, float_format="%.6g")
    proxies = [p for p in summary.index if p in values.columns]
    image = scatter_grid(values, targets, out / "scatter.png", proxies=proxies,
                         title=f"proxy rank vs {target_name}")
    sections = [
        ("Settings", f"{len(values)} cells; {settings_line}; target `{target_name}`."),
        ("Rank correlation", markdown_table(summary) + "\n\n" + _NOTES),
    ]
    return write_report(out / "correlation.md", title or f"Correlation report: {target_name}", sections,
                        [image, *extra_images])
