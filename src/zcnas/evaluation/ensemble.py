"""Rank ensembles over a scored table, and the choice of an ensemble on a stated split.

The ensemble rules live with the proxies (``zcnas.proxies.ensembles``); here they are applied to a whole table
(one row per cell, one column per proxy), where each member is ranked among the table's cells:

- ``ensemble_scores(table, members, rule)``: an ad-hoc ensemble of any columns;
- ``ensemble_scores(table, name="zc_ensemble")``: a registered one, ranked within the table
  (``ranking="population"``, AZ-NAS's way) or against its frozen reference sample (``ranking="reference"``,
  the value ``compute_proxies`` gives one cell at a time);
- ``search_ensembles`` scores every subset of a pool of columns under each rule on the selection cells only,
  and ``choose_ensemble`` applies the stated choice rule to that table.

Example:
    >>> import pandas as pd
    >>> t = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [4.0, 1.0, 2.0, 3.0]}, index=list("wxyz"))
    >>> ensemble_scores(t, ["a", "b"], "mean_rank").tolist()
    [0.625, 0.375, 0.625, 0.875]
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from zcnas.evaluation.rank import spearman
from zcnas.proxies.ensembles import (
    check_rule,
    combine,
    get_ensemble,
    population_fractions,
    reference_fractions,
)
from zcnas.proxies.registry import get_proxy

__all__ = ["add_ensembles", "choose_ensemble", "ensemble_scores", "search_ensembles"]


def _directions(members: Sequence[str], higher_is_better: Mapping[str, bool] | None) -> dict[str, bool]:
    out = {}
    for m in members:
        if higher_is_better is not None and m in higher_is_better:
            out[m] = bool(higher_is_better[m])
        else:
            try:
                out[m] = get_proxy(m).higher_is_better
            except ValueError:
                out[m] = True
    return out


def ensemble_scores(
    table: pd.DataFrame,
    members: Sequence[str] | None = None,
    rule: str = "log_rank",
    *,
    name: str | None = None,
    nan_policy: str = "worst",
    ranking: str = "population",
    higher_is_better: Mapping[str, bool] | None = None,
) -> pd.Series:
    """The ensemble's value for every row of ``table`` (higher is better).

    Args:
        table: one column per proxy, one row per cell.
        members: the member columns (an ad-hoc ensemble); or give ``name``.
        rule: "mean_rank" or "log_rank".
        name: a registered ensemble (its members, rule and NaN policy are used).
        nan_policy: "worst" (a NaN member ranks last) or "propagate" (the row is NaN).
        ranking: "population" (members ranked among the table's rows) or "reference" (against the registered
            ensemble's frozen reference sample: the per-cell value ``compute_proxies`` returns).
        higher_is_better: member directions; default the registry's (unknown columns: higher is better).

    Returns:
        A float Series indexed like ``table``, named after the ensemble.
    """
    if name is not None:
        spec = get_ensemble(name)
        members, rule, nan_policy = spec.members, spec.rule, spec.nan_policy
    if members is None or isinstance(members, str) or len(members) == 0:
        raise ValueError("give the ensemble's members as a list of column names, or a registered name=")
    check_rule(rule, nan_policy)
    if ranking not in ("population", "reference"):
        raise ValueError(f"ranking={ranking!r} is not allowed; use 'population' or 'reference'")
    missing = [m for m in members if m not in table.columns]
    if missing:
        raise KeyError(f"ensemble member(s) {missing} are not columns of the table; columns: {list(table.columns)}")
    directions = _directions(members, higher_is_better)
    values = {m: table[m].to_numpy(dtype=float, na_value=np.nan) for m in members}
    values = {m: np.where(np.isfinite(v), v, np.nan) for m, v in values.items()}
    if ranking == "reference":
        if name is None or get_ensemble(name).reference is None:
            raise ValueError("ranking='reference' needs a registered ensemble with a frozen reference (name=...)")
        reference = get_ensemble(name).reference
        fractions = [reference_fractions(values[m], np.array(reference[m]), directions[m], nan_policy)
                     for m in members]
    else:
        keep = np.logical_and.reduce([np.isfinite(v) for v in values.values()])
        fractions = [population_fractions(values[m], directions[m], nan_policy, keep=keep) for m in members]
    label = name or f"{rule}({','.join(members)})"
    return pd.Series(combine(fractions, rule), index=table.index, name=label)


def add_ensembles(table: pd.DataFrame, names: Sequence[str], ranking: str = "population") -> pd.DataFrame:
    """``table`` with one more column per registered ensemble whose members it has (others are skipped)."""
    out = table.copy()
    for name in names:
        if all(m in table.columns for m in get_ensemble(name).members):
            out[name] = ensemble_scores(table, name=name, ranking=ranking)
    return out


def search_ensembles(
    table: pd.DataFrame,
    targets: pd.Series,
    pool: Sequence[str],
    rules: Sequence[str] = ("mean_rank", "log_rank"),
    max_members: int = 4,
    seconds: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Spearman of every ensemble of 1..``max_members`` columns of ``pool`` under each rule, on ``table``'s rows.

    Give only the selection cells: the result is meant to choose on. ``seconds`` (median seconds per cell of
    each proxy) adds each candidate's cost, the sum over its members.

    Returns:
        One row per candidate: ``members`` (comma-joined), ``size``, ``rule``, ``spearman``, ``n``, ``seconds``.
    """
    common = table.index[table.index.isin(targets.index)]
    table, t = table.loc[common], targets.loc[common].to_numpy(float)
    rows = []
    for size in range(1, max_members + 1):
        for members in itertools.combinations(pool, size):
            for rule in rules if size > 1 else rules[:1]:
                values = ensemble_scores(table, list(members), rule).to_numpy()
                rho = spearman(values, t)
                cost = sum(seconds.get(m, np.nan) for m in members) if seconds is not None else np.nan
                rows.append({"members": ",".join(members), "size": size, "rule": rule if size > 1 else "-",
                             "spearman": rho.value, "n": rho.n, "seconds": cost})
    return pd.DataFrame(rows).sort_values("spearman", ascending=False, ignore_index=True)


def choose_ensemble(candidates: pd.DataFrame, tolerance: float = 0.005) -> pd.Series:
    """The stated choice rule: among the candidates within ``tolerance`` of the best selection Spearman, the
    cheapest (smallest summed seconds per cell); then the fewest members; then the higher Spearman.

    Example:
        >>> c = pd.DataFrame({"members": ["a,b", "a", "c"], "size": [2, 1, 1], "rule": ["log_rank", "-", "-"],
        ...                   "spearman": [0.90, 0.897, 0.80], "seconds": [2.0, 1.0, 0.1]})
        >>> choose_ensemble(c)["members"]
        'a'
    """
    best = candidates["spearman"].max()
    near = candidates[candidates["spearman"] >= best - tolerance]
    return near.sort_values(["seconds", "size", "spearman"], ascending=[True, True, False]).iloc[0]
