"""NAS-Bench-NLP ground truth: final losses of recipe cells on Penn Treebank and WikiText-2 (lower is better).

Read from the data folder's two files (see the data README's ``nbnlp/`` entry):

- ``nbnlp_wikitext2_runs.json``: 300 training runs on WikiText-2 (50 epochs each; 4 ended in a NaN loss);
- ``nbnlp_ptb_239_runs.json``: 239 of those recipes with their final PTB test loss and another study's
  training-free metrics (aaronserianni/training-free-nas).

Cells are the space's canonical strings (``zcnas.spaces.nbnlp.encode``). The benchmark trained some graphs more
than once under different recipe ids (the 300 runs are 236 distinct cells, the 239 PTB runs 192): a cell's value
is the mean over its runs with a finite loss (NaN when none has one), ``runs()`` keeps every run, and
``repeat_spread`` says how far repeats of one cell differ. Metrics, all with direction "min":

- ``ptb_test_loss``: the final PTB test loss (PTB has no validation loss in the file);
- ``wikitext2_val_loss``, ``wikitext2_test_loss``: the losses after the last (50th) epoch; a run that ended in NaN
  is NaN.

The official order is the benchmark's ``recepie_id``: ``cell_at(1000000)`` is its plain tanh RNN, and a cell file
for ``zcnas score --cells`` may list recipe ids. ``third_party()`` gives the other study's metrics per cell
(mean over runs); ``cells_with(metric)`` the cells that have a finite value (PTB's 192, WikiText-2's 233).

Example:
    >>> from zcnas.benchmarks import get_benchmark
    >>> table = get_benchmark("nbnlp")                                     # doctest: +SKIP
    >>> table.cell_at(1000000), table.direction("ptb_test_loss")          # doctest: +SKIP
    ('lin(x,h0);tanh(0)>0', 'min')
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from zcnas.atomic import atomic_open
from zcnas.benchmarks.base import FrameTable, register_benchmark
from zcnas.data.paths import data_file
from zcnas.spaces import nbnlp as nbnlp_space

__all__ = ["NBNLP_PTB_JSON", "NBNLP_WIKITEXT2_JSON", "NBNLPTable", "load_nbnlp", "write_cell_file"]

#: The two files, relative to the data folder.
NBNLP_WIKITEXT2_JSON = "nbnlp/nbnlp_wikitext2_runs.json"
NBNLP_PTB_JSON = "nbnlp/nbnlp_ptb_239_runs.json"

_METRICS = ("ptb_test_loss", "wikitext2_val_loss", "wikitext2_test_loss")


def _final(values: list) -> float:
    value = values[-1] if values else math.nan
    return float(value) if value is not None and math.isfinite(value) else math.nan


class NBNLPTable(FrameTable):
    """The NAS-Bench-NLP table over cells (mean over repeated runs), with the per-run data kept.

    Args:
        runs: one row per training run: ``recepie_id``, ``cell`` and the metrics (NaN where a run lacks one).
        third_party: one row per PTB run: ``recepie_id``, ``cell`` and the other study's metrics.
    """

    def __init__(self, runs: pd.DataFrame, third_party: pd.DataFrame) -> None:
        self._runs = runs.sort_values("recepie_id").reset_index(drop=True)
        self._third = third_party.sort_values("recepie_id").reset_index(drop=True)
        frame = self._runs.groupby("cell", sort=False)[list(_METRICS)].mean()  # NaNs skipped: finite runs only
        super().__init__(
            frame, space="nbnlp", directions={m: "min" for m in _METRICS},
            splits={("ptb", "test"): "ptb_test_loss", ("wikitext2", "val"): "wikitext2_val_loss",
                    ("wikitext2", "test"): "wikitext2_test_loss"},
        )
        self._by_id = dict(zip(self._runs["recepie_id"].astype(int), self._runs["cell"]))

    @property
    def has_official_order(self) -> bool:
        return True

    def cell_at(self, index: int) -> str:
        """The cell of the benchmark's ``recepie_id``; an id outside the table raises KeyError."""
        if int(index) not in self._by_id:
            raise KeyError(f"recepie_id {index} is not among the {len(self._by_id)} NAS-Bench-NLP runs in the table")
        return self._by_id[int(index)]

    def index_of(self, cell: str) -> int:
        """The smallest ``recepie_id`` whose recipe is ``cell``."""
        ids = self.recipe_ids(cell)
        if not ids:
            raise KeyError(f"cell {cell!r} is not in the nbnlp benchmark table")
        return ids[0]

    def recipe_ids(self, cell: str) -> list[int]:
        """Every ``recepie_id`` trained with this cell, sorted."""
        return sorted(int(i) for i in self._runs.loc[self._runs["cell"] == cell, "recepie_id"])

    def runs(self) -> pd.DataFrame:
        """One row per training run (``recepie_id``, ``cell``, the metrics), by recepie_id."""
        return self._runs.copy()

    def third_party(self, per_run: bool = False) -> pd.DataFrame:
        """The other study's training-free metrics of the PTB runs: per cell (mean over runs), or per run.

        The file's values come from that study's own code, minibatch and seed: compare rankings, not values.
        """
        if per_run:
            return self._third.copy()
        return self._third.drop(columns="recepie_id").groupby("cell", sort=False).mean()

    def cells_with(self, metric: str) -> list[str]:
        """The cells with a finite ``metric``, in table order."""
        column = self.column(metric)
        return column.index[np.isfinite(column.to_numpy())].tolist()

    def repeat_spread(self, metric: str) -> pd.DataFrame:
        """For cells trained more than once: runs, mean, standard deviation (ddof 0) and range of ``metric``."""
        self._check_metric(metric)
        runs = self._runs[["cell", metric]].dropna()
        groups = runs.groupby("cell")[metric]
        table = pd.DataFrame({"runs": groups.size(), "mean": groups.mean(), "sd": groups.std(ddof=0),
                              "range": groups.max() - groups.min()})
        return table[table["runs"] > 1]


def _read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path} should hold a JSON list of NAS-Bench-NLP runs")
    return data


def load_nbnlp(path: str | os.PathLike[str] | None = None) -> NBNLPTable:
    """Load the table from the data folder, or from ``path``: a folder holding the two files under their names.

    A recipe the space rejects raises ValueError naming its ``recepie_id``.
    """
    if path is None:
        wt2 = data_file(NBNLP_WIKITEXT2_JSON, "the NAS-Bench-NLP WikiText-2 runs")
        ptb = data_file(NBNLP_PTB_JSON, "the NAS-Bench-NLP PTB runs")
    else:
        folder = Path(path)
        wt2, ptb = folder / Path(NBNLP_WIKITEXT2_JSON).name, folder / Path(NBNLP_PTB_JSON).name
        for file in (wt2, ptb):
            if not file.is_file():
                raise FileNotFoundError(f"{file} does not exist; the nbnlp benchmark folder holds "
                                        f"{Path(NBNLP_WIKITEXT2_JSON).name} and {Path(NBNLP_PTB_JSON).name}")
    cells: dict[int, str] = {}

    def cell_of(run: dict) -> str:
        rid = int(run["recepie_id"])
        try:
            cells[rid] = nbnlp_space.encode(run["recipe"])
        except ValueError as exc:
            raise ValueError(f"recepie_id {rid}: {exc}") from None
        return cells[rid]

    rows: dict[int, dict] = {}
    for run in _read(wt2):
        rows[int(run["recepie_id"])] = {
            "recepie_id": int(run["recepie_id"]), "cell": cell_of(run), "ptb_test_loss": math.nan,
            "wikitext2_val_loss": _final(run["val_losses"]), "wikitext2_test_loss": _final(run["test_losses"]),
        }
    third = []
    for run in _read(ptb):
        rid = int(run["recepie_id"])
        cell = cell_of(run)
        row = rows.setdefault(rid, {"recepie_id": rid, "cell": cell, "wikitext2_val_loss": math.nan,
                                    "wikitext2_test_loss": math.nan})
        if row["cell"] != cell:
            raise ValueError(f"recepie_id {rid} has different recipes in the two files")
        loss = run["ptb_final_test_loss"]
        row["ptb_test_loss"] = float(loss) if loss is not None and math.isfinite(loss) else math.nan
        third.append({"recepie_id": rid, "cell": cell, **{k: float(v) for k, v in run["third_party_metrics"].items()}})
    return NBNLPTable(pd.DataFrame(list(rows.values())), pd.DataFrame(third))


def write_cell_file(path: str | os.PathLike[str], metric: str, table: NBNLPTable | None = None) -> int:
    """Write the cells with a finite ``metric`` (one canonical string a line, each after a comment line with its
    recipe ids) for ``zcnas score --cells``; returns how many.

    Example:
        >>> import tempfile, os
        >>> n = write_cell_file(os.path.join(tempfile.mkdtemp(), "ptb.txt"), "ptb_test_loss")  # doctest: +SKIP
        >>> n                                                                                    # doctest: +SKIP
        192
    """
    table = table or load_nbnlp()
    cells = table.cells_with(metric)
    with atomic_open(path, "w") as handle:
        handle.write(f"# NAS-Bench-NLP cells with a finite {metric} ({len(cells)} cells)\n")
        for cell in cells:
            handle.write(f"# recepie_id {', '.join(map(str, table.recipe_ids(cell)))}\n{cell}\n")
    return len(cells)


register_benchmark(
    "nbnlp", space="nbnlp", loader=load_nbnlp,
    description="NAS-Bench-NLP final losses on PTB (192 cells) and WikiText-2 (236 cells, 233 with a finite loss), lower is better",
)
