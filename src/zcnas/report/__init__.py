"""zcnas.report: scatter figures and the Markdown report.

Example:
    >>> import pandas as pd
    >>> from zcnas.report import markdown_table
    >>> markdown_table(pd.DataFrame({"n": [1]})).splitlines()[0]
    '| n |'
"""

from __future__ import annotations

from zcnas.report.markdown import markdown_table, write_report
from zcnas.report.plots import scatter_figure, scatter_grid

__all__ = ["markdown_table", "scatter_figure", "scatter_grid", "write_report"]
