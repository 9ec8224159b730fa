"""The Markdown side of the report: pipe tables without extra dependencies, and the report file itself.

Example:
    >>> import pandas as pd
    >>> print(markdown_table(pd.DataFrame({"rho": [0.5, float("nan")]}, index=pd.Index(["a", "b"], name="proxy"))))
    | proxy | rho |
    | --- | ---: |
    | a | 0.500 |
    | b | nan |
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from zcnas.atomic import atomic_open

__all__ = ["markdown_table", "write_report"]


def _cell(value: Any, floatfmt: str) -> str:
    """One table cell: floats through ``floatfmt``, missing values as "nan", pipes escaped."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return format(v, floatfmt)
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return "nan"
    return str(value).replace("|", "\\|").replace("\r\n", "<br>").replace("\n", "<br>")


def _is_default_index(index: pd.Index) -> bool:
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and index.name is None


def markdown_table(df: pd.DataFrame, floatfmt: str = ".3f", index: bool | None = None) -> str:
    """Render a DataFrame as a Markdown pipe table (GitHub style), without the tabulate dependency.

    Floats are formatted with ``floatfmt``; NaN and other missing values show as "nan", infinities as "inf" /
    "-inf"; ints and bools print as themselves; a "|" inside text is escaped as "\\|". Numeric columns are
    right-aligned.

    Args:
        df: the table.
        floatfmt: a format spec for floats, e.g. ".3f" or ".2e".
        index: include the index as the first column; the default includes it unless it is a plain unnamed
            0..n-1 RangeIndex.

    Returns:
        The table as lines joined by "\\n", with no trailing newline.

    Example:
        >>> print(markdown_table(pd.DataFrame({"name": ["x"], "n": [3]})))
        | name | n |
        | --- | ---: |
        | x | 3 |
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"markdown_table needs a pandas DataFrame; got {type(df).__name__}.")
    format(1.0, floatfmt)  # a bad spec fails here, with Python's own message
    show_index = (not _is_default_index(df.index)) if index is None else bool(index)
    header: list[str] = []
    aligns: list[str] = []
    columns: list[list[Any]] = []
    if show_index:
        header.append(_cell("" if df.index.name is None else str(df.index.name), floatfmt))
        aligns.append("---:" if pd.api.types.is_numeric_dtype(df.index) else "---")
        columns.append(list(df.index))
    for j, name in enumerate(df.columns):
        col = df.iloc[:, j]
        header.append(_cell(str(name), floatfmt))
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        aligns.append("---:" if numeric else "---")
        columns.append(col.tolist())
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(aligns) + " |"]
    for i in range(len(df)):
        lines.append("| " + " | ".join(_cell(c[i], floatfmt) for c in columns) + " |")
    return "\n".join(lines)


def _relative_link(image: Path, folder: Path) -> str:
    rel = Path(os.path.relpath(image.resolve(), start=folder.resolve())).as_posix()
    return quote(rel, safe="/._-~")


def write_report(
    path: str | os.PathLike[str],
    title: str,
    sections: Sequence[tuple[str, str]],
    images: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """Write a Markdown report atomically: a title, one "##" section per (heading, body), then the figures.

    Figures are embedded as ``![file stem](link)`` under a "## Figures" heading, with links relative to the
    report's folder (URL-quoted), so the folder can be moved or published as a whole.

    Args:
        path: the Markdown file to write; its folder is created when missing.
        title: the "#" title.
        sections: (heading, Markdown body) pairs, in order; a body may hold a ``markdown_table``.
        images: image files to embed, in order; each must exist.

    Returns:
        The path of the report.

    Raises:
        FileNotFoundError: when an image does not exist (a report must not link to a missing figure).

    Example:
        >>> import tempfile
        >>> out = write_report(Path(tempfile.mkdtemp()) / "r.md", "Run", [("Setup", "seed 0")], [])
        >>> out.read_text().splitlines()[:3]
        ['# Run', '', '## Setup']
    """
    target = Path(path)
    image_paths = [Path(p) for p in images]
    for p in image_paths:
        if not p.is_file():
            raise FileNotFoundError(f"Report image {str(p)!r} does not exist; write the figure before the report.")
    parts = [f"# {title}", ""]
    for heading, body in sections:
        parts += [f"## {heading}", "", body.rstrip("\n"), ""]
    if image_paths:
        parts += ["## Figures", ""]
        target.parent.mkdir(parents=True, exist_ok=True)
        for p in image_paths:
            parts += [f"![{p.stem}]({_relative_link(p, target.parent)})", ""]
    text = "\n".join(parts).rstrip("\n") + "\n"
    with atomic_open(target, "w", encoding="utf-8") as fh:
        fh.write(text)
    return target
