"""Rank metrics between proxy scores and trained accuracies: the paper's evaluation (REFERENCE.md section 3).

Conventions shared by every metric here:

* Inputs are 1-D array-likes of equal length (numpy arrays, lists, pandas Series), paired **by position**.
  ``correlation_table`` is the one exception: it aligns a score table and a target Series by index.
* Non-finite values (NaN, +inf, -inf) are missing. Each metric drops every position where the score or the
  target is not finite, computes on what is left, and reports how many positions it dropped (``n_dropped``)
  next to how many it used (``n``). Every definition below (top fractions included) applies to the kept
  positions only.
* Values are signed: a proxy that ranks architectures backwards gets a negative correlation, never ``abs()``.
  The metric functions take scores and targets as higher-is-better; ``correlation_table`` first turns every
  column and the target that way round (``higher_is_better``, ``target_higher_is_better``), so a loss target
  or a lower-is-better proxy is read the right way and a positive value always means "ranks well".
* Fewer than 3 usable points gives a NaN value, never an exception. A constant input (zero variance after
  dropping) also gives NaN, as it does in scipy, but without the warning.
* Where a definition has to order tied values (top-fraction sets, top-k), the tie is broken by position: the
  earlier position counts as the better one. The result is deterministic for a given input order.

Example:
    >>> import numpy as np
    >>> from zcnas.evaluation import spearman
    >>> r = spearman([1.0, 2.0, np.nan, 4.0], [10.0, 20.0, 30.0, 35.0])
    >>> (r.value, r.n, r.n_dropped)
    (1.0, 3, 1)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "VOTE_PROXIES",
    "OverlapResult",
    "RankResult",
    "TopKHitsResult",
    "VoteResult",
    "align_by_index",
    "correlation_table",
    "kendall",
    "rank_vote",
    "spearman",
    "top_fraction_correlation",
    "top_fraction_overlap",
    "top_k_hits",
    "vote_agreement",
]

#: The paper's vote: synflow + jacob_cov + snip (REF notebook ``nasbench201_correlations.ipynb``).
VOTE_PROXIES: tuple[str, ...] = ("synflow", "jacob_cov", "snip")

#: Fewer usable points than this gives a NaN value.
MIN_POINTS = 3

#: Default number of (row-block x column) cells that ``vote_agreement`` holds at once (about 4M int8s).
_VOTE_BLOCK_CELLS = 4_000_000

Method = Literal["spearman", "kendall"]
VoteRule = Literal["plurality", "reference"]


# ----------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RankResult:
    """A rank correlation and the number of points behind it.

    Attributes:
        value: the signed correlation, NaN when fewer than 3 points (or a constant input) remain.
        n: the number of points the value was computed on.
        n_dropped: the number of positions dropped because the score or the target was not finite.
    """

    value: float
    n: int
    n_dropped: int


@dataclass(frozen=True)
class OverlapResult:
    """Share of the true top set that the proxy's top set recovers (``top_fraction_overlap``).

    Attributes:
        value: ``hits / size`` in [0, 1], NaN when fewer than 3 points remain.
        hits: how many of the true top ``size`` are also in the proxy's top ``size``.
        size: the size of both top sets, ``ceil(fraction * n)``.
        n: the number of usable points.
        n_dropped: the number of positions dropped because the score or the target was not finite.
    """

    value: float
    hits: int
    size: int
    n: int
    n_dropped: int


@dataclass(frozen=True)
class TopKHitsResult:
    """How many of the k best-scored architectures are truly in the top fraction (``top_k_hits``).

    Attributes:
        value: the hit count as a float, NaN when fewer than 3 points remain.
        k: the number of best-scored architectures taken, ``min(k, n)``.
        n_top: the size of the true top set, ``ceil(fraction * n)``.
        expected: the mean hit count of a random choice of ``k``: ``k * n_top / n`` (about ``k * fraction``).
        n: the number of usable points.
        n_dropped: the number of positions dropped because the score or the target was not finite.
    """

    value: float
    k: int
    n_top: int
    expected: float
    n: int
    n_dropped: int

    @property
    def hits(self) -> int | None:
        """The hit count as an int, None when the value is NaN."""
        return None if math.isnan(self.value) else int(self.value)


@dataclass(frozen=True)
class VoteResult:
    """The vote's pairwise concordance rate (``vote_agreement``).

    Attributes:
        value: the share of compared pairs the vote orders correctly, NaN when fewer than 3 points remain
            or no pair has different targets. Under ``rule="reference"`` a pair can earn half credit.
        n_correct: the (possibly half-integer, under ``rule="reference"``) number of pairs ordered correctly.
        n_pairs: the number of unordered pairs with different target values (the denominator).
        n_undecided: pairs among ``n_pairs`` where the vote has no majority (a tie, including all abstaining).
        n: the number of usable architectures.
        n_dropped: the number of positions dropped because a member score or the target was not finite.
    """

    value: float
    n_correct: float
    n_pairs: int
    n_undecided: int
    n: int
    n_dropped: int


# ----------------------------------------------------------------------------------------------- helpers


def _as_1d(x: Any, name: str) -> np.ndarray:
    """An array-like as a 1-D float64 array; pandas NA becomes NaN."""
    if isinstance(x, (pd.Series, pd.Index)):
        arr = x.to_numpy(dtype=float, na_value=np.nan)
    else:
        try:
            arr = np.asarray(x, dtype=float)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be numeric; could not convert it to floats ({exc}).") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {arr.shape}.")
    return arr


def _paired(scores: Any, targets: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """Scores and targets as float arrays with the non-finite pairs dropped, and how many were dropped."""
    s = _as_1d(scores, "scores")
    t = _as_1d(targets, "targets")
    if s.shape != t.shape:
        raise ValueError(
            f"scores and targets must have the same length; got {s.shape[0]} scores and {t.shape[0]} targets."
        )
    keep = np.isfinite(s) & np.isfinite(t)
    return s[keep], t[keep], int(s.shape[0] - keep.sum())


def _check_fraction(fraction: float) -> None:
    if not (0.0 < float(fraction) <= 1.0):
        raise ValueError(f"fraction must be in (0, 1]; got {fraction!r}.")


def _top_count(fraction: float, n: int) -> int:
    """``ceil(fraction * n)``, robust to float noise (0.1 * 30 is 3.0000000000000004, which must give 3)."""
    return min(n, max(1, math.ceil(round(fraction * n, 9)))) if n > 0 else 0


def _top_positions(values: np.ndarray, count: int) -> np.ndarray:
    """Positions of the ``count`` largest values; ties go to the earlier position (stable sort)."""
    order = np.argsort(-values, kind="stable")
    return order[:count]


def _correlate(x: np.ndarray, y: np.ndarray, method: str) -> float:
    """Signed Spearman rho or Kendall tau-b of two finite arrays; NaN for < 3 points or a constant input."""
    if x.shape[0] < MIN_POINTS or np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan")
    if method == "spearman":
        return float(stats.spearmanr(x, y).statistic)
    if method == "kendall":
        return float(stats.kendalltau(x, y, variant="b").statistic)
    raise ValueError(f"Unknown correlation method {method!r}; allowed: 'spearman', 'kendall'.")


# ----------------------------------------------------------------------------------------------- metrics


def spearman(scores: Any, targets: Any) -> RankResult:
    """Signed Spearman rank correlation between proxy scores and targets, non-finite pairs dropped.

    Ties get average ranks, as in ``scipy.stats.spearmanr``.

    Args:
        scores: proxy scores, higher is better (array-like, paired with ``targets`` by position).
        targets: true accuracies.

    Returns:
        ``RankResult(value, n, n_dropped)``; value NaN when fewer than 3 finite pairs remain.

    Example:
        >>> spearman([3, 2, 1, 0], [0.1, 0.2, 0.3, 0.4]).value
        -1.0
    """
    s, t, dropped = _paired(scores, targets)
    return RankResult(_correlate(s, t, "spearman"), int(s.shape[0]), dropped)


def kendall(scores: Any, targets: Any) -> RankResult:
    """Signed Kendall tau-b between proxy scores and targets, non-finite pairs dropped.

    Ties are handled by tau-b, as in ``scipy.stats.kendalltau(variant="b")``.

    Args:
        scores: proxy scores, higher is better (array-like, paired with ``targets`` by position).
        targets: true accuracies.

    Returns:
        ``RankResult(value, n, n_dropped)``; value NaN when fewer than 3 finite pairs remain.

    Example:
        >>> round(kendall([1, 2, 3, 4], [1, 3, 2, 4]).value, 4)
        0.6667
    """
    s, t, dropped = _paired(scores, targets)
    return RankResult(_correlate(s, t, "kendall"), int(s.shape[0]), dropped)


def top_fraction_correlation(
    scores: Any, targets: Any, fraction: float = 0.1, method: Method = "spearman"
) -> RankResult:
    """Correlation over only the architectures in the true top ``fraction`` (the paper's top-10% rho / tau).

    After dropping non-finite pairs (n remain), the true top set is the ``ceil(fraction * n)`` positions with
    the highest targets, ties in the target broken by position (earlier wins). The correlation between score
    and target is then computed on that set only.

    Args:
        scores: proxy scores, higher is better.
        targets: true accuracies.
        fraction: share of the usable architectures in the top set, in (0, 1].
        method: "spearman" or "kendall" (tau-b).

    Returns:
        ``RankResult(value, n, n_dropped)`` where ``n`` is the size of the top set the value was computed on.

    Example:
        >>> acc = list(range(10))                   # item 9 is the best
        >>> score = [0, 1, 2, 3, 4, 5, 6, 7, 9, 8]  # items 8 and 9 swapped
        >>> r = top_fraction_correlation(score, acc, fraction=0.3)
        >>> (round(r.value, 3), r.n)
        (0.5, 3)
    """
    _check_fraction(fraction)
    if method not in ("spearman", "kendall"):
        raise ValueError(f"Unknown correlation method {method!r}; allowed: 'spearman', 'kendall'.")
    s, t, dropped = _paired(scores, targets)
    top = _top_positions(t, _top_count(fraction, s.shape[0]))
    return RankResult(_correlate(s[top], t[top], method), int(top.shape[0]), dropped)


def top_fraction_overlap(scores: Any, targets: Any, fraction: float = 0.1) -> OverlapResult:
    """Share of the true top-``fraction`` architectures that are also in the proxy's top ``fraction``.

    After dropping non-finite pairs (n remain), both top sets have ``size = ceil(fraction * n)`` members: the
    highest targets and the highest scores. Ties are broken by position (the earlier position is taken first),
    so both sets always have exactly ``size`` members. The value is ``|both| / size``.

    Args:
        scores: proxy scores, higher is better.
        targets: true accuracies.
        fraction: share of the usable architectures in each top set, in (0, 1].

    Returns:
        ``OverlapResult(value, hits, size, n, n_dropped)``.

    Example:
        >>> r = top_fraction_overlap([9, 8, 7, 6, 5, 4, 3, 2, 1, 0], list(range(10))[::-1], fraction=0.2)
        >>> (r.value, r.hits, r.size)
        (1.0, 2, 2)
    """
    _check_fraction(fraction)
    s, t, dropped = _paired(scores, targets)
    n = int(s.shape[0])
    size = _top_count(fraction, n)
    if n < MIN_POINTS:
        return OverlapResult(float("nan"), 0, size, n, dropped)
    hits = int(np.intersect1d(_top_positions(t, size), _top_positions(s, size)).shape[0])
    return OverlapResult(hits / size, hits, size, n, dropped)


def top_k_hits(scores: Any, targets: Any, k: int = 64, fraction: float = 0.05) -> TopKHitsResult:
    """Of the ``k`` best-scored architectures, how many are in the true top ``fraction`` (paper Tables 4/11).

    The paper's "top-64 in the top-5%" count: take the 64 highest-scoring architectures of the whole space and
    count those among the 5% most accurate; a random choice would give about ``k * fraction`` (3.2 for the
    defaults). After dropping non-finite pairs (n remain), the true top set has ``ceil(fraction * n)`` members;
    ``k`` is capped at n. Ties (in the score for the top-k, in the target for the top set) are broken by
    position: the earlier position is taken first.

    Args:
        scores: proxy scores, higher is better.
        targets: true accuracies.
        k: how many of the best-scored architectures to take (>= 1).
        fraction: share of the usable architectures in the true top set, in (0, 1].

    Returns:
        ``TopKHitsResult(value, k, n_top, expected, n, n_dropped)``; ``value`` is the hit count.

    Example:
        >>> r = top_k_hits(list(range(100)), list(range(100)), k=10, fraction=0.05)
        >>> (r.value, r.n_top, r.expected)
        (5.0, 5, 0.5)
    """
    _check_fraction(fraction)
    if int(k) < 1:
        raise ValueError(f"k must be a positive number of architectures; got {k!r}.")
    s, t, dropped = _paired(scores, targets)
    n = int(s.shape[0])
    k_eff = min(int(k), n)
    n_top = _top_count(fraction, n)
    expected = k_eff * n_top / n if n else float("nan")
    if n < MIN_POINTS:
        return TopKHitsResult(float("nan"), k_eff, n_top, expected, n, dropped)
    hits = np.intersect1d(_top_positions(s, k_eff), _top_positions(t, n_top)).shape[0]
    return TopKHitsResult(float(hits), k_eff, n_top, expected, n, dropped)


# ----------------------------------------------------------------------------------------------- vote


def _member_columns(
    score_columns: Mapping[str, Any] | pd.DataFrame, proxies: Sequence[str]
) -> list[np.ndarray]:
    if isinstance(proxies, str):
        raise TypeError(f"proxies must be a sequence of names, not the single string {proxies!r}.")
    if len(proxies) == 0:
        raise ValueError("proxies must name at least one score column.")
    available = list(score_columns.keys())
    missing = [p for p in proxies if p not in available]
    if missing:
        raise KeyError(f"Vote member(s) {missing} not among the score columns; available: {available}.")
    cols = [_as_1d(score_columns[p], f"score column {p!r}") for p in proxies]
    lengths = {c.shape[0] for c in cols}
    if len(lengths) != 1:
        raise ValueError(f"Vote members must have the same length; got lengths {sorted(lengths)}.")
    return cols


def _sign_matrix(row: np.ndarray, col: np.ndarray) -> np.ndarray:
    """int8 matrix of sign(row_i - col_j), computed from comparisons (no float difference matrix)."""
    a = row[:, None]
    b = col[None, :]
    out = np.greater(a, b).astype(np.int8)
    out -= np.less(a, b)
    return out


def vote_agreement(
    score_columns: Mapping[str, Any] | pd.DataFrame,
    targets: Any,
    proxies: Sequence[str] = VOTE_PROXIES,
    rule: VoteRule = "reference",
    block_size: int | None = None,
) -> VoteResult:
    """The paper's "vote": the share of architecture pairs that a majority vote of proxies orders correctly.

    This is a pairwise concordance rate, **not** a Spearman rho (Kendall's tau would be about ``2 * value - 1``
    when there are no ties). The REF notebook reports 0.817 on NB201 CIFAR-10 (0.832 C100, 0.813 IN16) and the
    paper prints it under the Spearman label (the abstract's 0.82). For a proper rank ensemble use
    ``spearman(rank_vote(...), targets)``.

    Definition (``rule="plurality"``): after dropping every architecture where a member score or
    the target is not finite, take every unordered pair (i, j) with different targets. Each proxy votes
    ``sign(score_i - score_j)``; a proxy with tied scores (sign 0) abstains. The vote is the sign of the sum
    of the votes. A pair is correct when that sign equals ``sign(target_i - target_j)``; a tied vote (equal
    numbers for and against, or everyone abstaining) is counted as not correct and stays in the denominator.

    ``rule="reference"`` (the default: faithful to the paper's number) reproduces the REF notebook loop, which runs over ordered pairs and predicts "i
    better" when at least half the proxies have ``score_i - score_j > 0`` (so a tied proxy counts as a vote
    for "j better"). Per unordered pair this equals: a strict majority decides as above; when neither side
    reaches half of the members (with 3 proxies: any pair with fewer than two votes on either side) the pair
    gets half credit. (REF also keeps NaN scores, whose comparisons are False; here they are dropped.)
    Without any tied scores and with an odd number of proxies both rules give the same number.

    Memory is O(block_size * n): pairs are processed in blocks of rows against the later columns, so n=15,625
    (about 122M pairs) runs in a few seconds in about 50 MB.

    Args:
        score_columns: mapping (or DataFrame) from proxy name to scores, all paired by position with targets.
        targets: true accuracies.
        proxies: the vote members; the default is the paper's synflow + jacob_cov + snip.
        rule: "reference" (default: the REF notebook's tie behaviour) or "plurality" (see above).
        block_size: rows per block; the default keeps a block near 4M pair cells. Any value gives the same
            result.

    Returns:
        ``VoteResult(value, n_correct, n_pairs, n_undecided, n, n_dropped)``.

    Example:
        >>> cols = {"synflow": [1, 2, 3, 4], "jacob_cov": [1, 2, 4, 3], "snip": [2, 1, 3, 4]}
        >>> vote_agreement(cols, [10, 20, 30, 40]).value
        1.0
    """
    if rule not in ("plurality", "reference"):
        raise ValueError(f"Unknown vote rule {rule!r}; allowed: 'plurality', 'reference'.")
    cols = _member_columns(score_columns, proxies)
    t = _as_1d(targets, "targets")
    if t.shape[0] != cols[0].shape[0]:
        raise ValueError(
            f"score columns and targets must have the same length; got {cols[0].shape[0]} and {t.shape[0]}."
        )
    keep = np.isfinite(t)
    for c in cols:
        keep &= np.isfinite(c)
    n = int(keep.sum())
    dropped = int(t.shape[0] - n)
    if n < MIN_POINTS:
        return VoteResult(float("nan"), 0.0, 0, 0, n, dropped)
    t = t[keep]
    cols = [c[keep] for c in cols]
    m = len(cols)
    if block_size is None:
        block_size = max(1, _VOTE_BLOCK_CELLS // n)
    if int(block_size) < 1:
        raise ValueError(f"block_size must be a positive number of rows; got {block_size!r}.")
    block_size = int(block_size)

    # int64 accumulators; "reference" counts half credits as units of 1/2 to stay exact.
    correct = 0
    pairs = 0
    undecided = 0
    for start in range(0, n, block_size):
        stop = min(start + block_size, n)
        rows = np.arange(start, stop)
        cols_idx = np.arange(start, n)
        upper = cols_idx[None, :] > rows[:, None]  # unordered pairs: each (i, j) with i < j once
        tsign = _sign_matrix(t[start:stop], t[start:])
        compared = upper & (tsign != 0)
        pairs += int(compared.sum())
        if rule == "plurality":
            total = np.zeros(tsign.shape, dtype=np.int16 if m > 127 else np.int8)
            for c in cols:
                total += _sign_matrix(c[start:stop], c[start:])
            vote = np.sign(total)
            correct += int((compared & (vote == tsign)).sum())
            undecided += int((compared & (vote == 0)).sum())
        else:
            pos = np.zeros(tsign.shape, dtype=np.int16)
            neg = np.zeros(tsign.shape, dtype=np.int16)
            for c in cols:
                sm = _sign_matrix(c[start:stop], c[start:])
                pos += sm > 0
                neg += sm < 0
            # Ordered pair (i, j): predicts "i better" iff 2*pos >= m. Ordered (j, i): "j better" iff 2*neg >= m.
            i_better_ij = 2 * pos >= m
            j_better_ji = 2 * neg >= m
            up = tsign > 0
            # Credits (in halves): (i, j) correct iff its prediction matches; (j, i) likewise.
            ij = i_better_ij.astype(np.int8)
            ji = j_better_ji.astype(np.int8)
            credit = np.where(up, ij + (1 - ji), (1 - ij) + ji)
            correct += int(credit[compared].sum())
            undecided += int((compared & ~(i_better_ij ^ j_better_ji)).sum())
    if rule == "reference":
        n_correct = correct / 2.0
    else:
        n_correct = float(correct)
    value = n_correct / pairs if pairs else float("nan")
    return VoteResult(value, n_correct, pairs, undecided, n, dropped)


def rank_vote(
    score_columns: Mapping[str, Any] | pd.DataFrame, proxies: Sequence[str] = VOTE_PROXIES
) -> np.ndarray:
    """A proper rank ensemble of proxies: the mean of the members' ranks, NaN where any member is missing.

    The rows where every member is finite are ranked per member with ``scipy.stats.rankdata`` (average ranks
    for ties, 1 = lowest score) on that common set, and the ranks are averaged; every other row is NaN. So
    ``spearman(rank_vote(cols), targets)`` is the rank-ensemble Spearman that the paper's "vote" is sometimes
    mistaken for (see ``vote_agreement``).

    Args:
        score_columns: mapping (or DataFrame) from proxy name to scores (higher is better), paired by position.
        proxies: the members; the default is the paper's synflow + jacob_cov + snip.

    Returns:
        A float64 array of the same length as the columns.

    Example:
        >>> rank_vote({"a": [10, 20, 30], "b": [3, 1, float("nan")]}, proxies=("a", "b"))
        array([1.5, 1.5, nan])
    """
    cols = _member_columns(score_columns, proxies)
    keep = np.ones(cols[0].shape[0], dtype=bool)
    for c in cols:
        keep &= np.isfinite(c)
    out = np.full(cols[0].shape[0], np.nan)
    if keep.any():
        out[keep] = np.mean([stats.rankdata(c[keep], method="average") for c in cols], axis=0)
    return out


# ----------------------------------------------------------------------------------------------- table


def align_by_index(scores: pd.DataFrame, targets: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """Restrict a score table and a target Series to their common index, in the score table's row order.

    Args:
        scores: one column per proxy, indexed by architecture string.
        targets: accuracies indexed by architecture string.

    Returns:
        ``(scores, targets)`` with identical indexes.

    Raises:
        ValueError: when an index has duplicate labels or the two share no label.

    Example:
        >>> s = pd.DataFrame({"synflow": [1.0, 2.0]}, index=["a", "b"])
        >>> _, t = align_by_index(s, pd.Series({"b": 0.9, "c": 0.8}))
        >>> list(t.index)
        ['b']
    """
    if not isinstance(scores, pd.DataFrame):
        raise TypeError(f"scores must be a pandas DataFrame indexed by architecture; got {type(scores).__name__}.")
    if not isinstance(targets, pd.Series):
        raise TypeError(f"targets must be a pandas Series indexed by architecture; got {type(targets).__name__}.")
    for label, idx in (("scores", scores.index), ("targets", targets.index)):
        if idx.has_duplicates:
            dup = idx[idx.duplicated()].unique()[:3].tolist()
            raise ValueError(f"The {label} index has duplicate architectures (e.g. {dup}); make it unique first.")
    common = scores.index[scores.index.isin(targets.index)]
    if len(common) == 0:
        raise ValueError(
            "The scores and targets share no architecture in their indexes "
            f"(scores e.g. {scores.index[:2].tolist()}, targets e.g. {targets.index[:2].tolist()})."
        )
    return scores.loc[common], targets.loc[common]


def spearman_spread(scores: Any, targets: Any, sample_size: int, repeats: int = 500, seed: int = 0) -> float:
    """Standard deviation of Spearman's rho over bootstrap samples of ``sample_size`` usable architectures.

    Tells how much a correlation measured on ``sample_size`` cells moves with the choice of cells alone
    (drawn with replacement from the finite pairs, ``repeats`` times, with ``numpy.random.default_rng(seed)``).

    Example:
        >>> x = np.arange(200.0)
        >>> round(spearman_spread(x, x, 50), 12)  # a perfect ranking stays perfect
        0.0
    """
    x, y, _ = _paired(scores, targets)
    if len(x) < 3 or sample_size < 3:
        return float("nan")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(repeats):
        idx = rng.integers(0, len(x), size=sample_size)
        values.append(_correlate(x[idx], y[idx], "spearman"))
    return float(np.nanstd(values))


def select_proxy_columns(scores: pd.DataFrame, proxies: Sequence[str] | None) -> list[str]:
    """The proxy columns to use: ``proxies`` checked against ``scores``, or every numeric column when None."""
    if proxies is None:
        return [c for c in scores.columns if pd.api.types.is_numeric_dtype(scores[c])]
    if isinstance(proxies, str):
        raise TypeError(f"proxies must be a sequence of column names, not the single string {proxies!r}.")
    missing = [p for p in proxies if p not in scores.columns]
    if missing:
        raise KeyError(f"Proxy column(s) {missing} not in the score table; available: {list(scores.columns)}.")
    return list(proxies)


def _fraction_label(fraction: float) -> str:
    pct = round(float(fraction) * 100, 6)
    return f"{pct:g}"


def correlation_table(
    scores: pd.DataFrame,
    targets: pd.Series,
    proxies: Sequence[str] | None = None,
    fraction: float = 0.1,
    k: int = 64,
    k_fraction: float = 0.05,
    vote_proxies: Sequence[str] = VOTE_PROXIES,
    higher_is_better: Mapping[str, bool] | None = None,
    target_higher_is_better: bool = True,
) -> pd.DataFrame:
    """All of the paper's rank metrics, one row per proxy (plus a "vote" row when its members are present).

    Direction: a column named in ``higher_is_better`` with False, and the target when
    ``target_higher_is_better`` is False (a loss), are negated before anything is computed, so every metric
    reads "higher means better" and the top fractions are the best cells by each side's own direction.

    ``scores`` and ``targets`` are aligned by index (architecture string), keeping the score table's row order
    (which is the order used to break ties); an empty overlap is an error. Each row is computed on that
    proxy's own finite pairs.

    Columns (names follow ``fraction``, ``k`` and ``k_fraction``; the defaults give these):
        spearman, kendall: signed rho and tau-b over all usable architectures.
        top10_spearman, top10_kendall: the same over the true top 10% only (``top_fraction_correlation``).
        top10_overlap: share of the true top 10% inside the proxy's top 10% (``top_fraction_overlap``).
        top64_in_top5: how many of the 64 best-scored are in the true top 5% (``top_k_hits``).
        n: usable architectures; n_nan: architectures dropped for a non-finite score or target.
        pairwise_agreement: only when the vote row exists; ``vote_agreement`` on the "vote" row, NaN elsewhere.

    The "vote" row is added when every member of ``vote_proxies`` (default synflow, jacob_cov, snip) is among
    the selected proxies and no proxy is itself called "vote". All its metrics are those of the rank ensemble
    ``rank_vote`` (so its ``spearman`` is the proper rank-vote Spearman), and ``pairwise_agreement`` holds the
    paper's pairwise concordance rate (REF: 0.817 on NB201 CIFAR-10, printed in the paper as a Spearman).

    Args:
        scores: one numeric column per proxy, indexed by architecture string.
        targets: accuracies, indexed by architecture string.
        proxies: columns to evaluate; default every numeric column, in order.
        fraction: the top fraction of the top-fraction metrics (paper: 0.1).
        k: the number of best-scored architectures for the hit count (paper: 64).
        k_fraction: the true top fraction for the hit count (paper: 0.05).
        vote_proxies: members of the vote row.

    Returns:
        A plain DataFrame indexed by proxy name (index name "proxy").

    Example:
        >>> idx = [f"a{i}" for i in range(20)]
        >>> s = pd.DataFrame({"synflow": range(20), "params": range(20)[::-1]}, index=idx, dtype=float)
        >>> t = pd.Series(range(20), index=idx, dtype=float)
        >>> correlation_table(s, t)["spearman"].tolist()
        [1.0, -1.0]
    """
    _check_fraction(fraction)
    _check_fraction(k_fraction)
    scores, targets = align_by_index(scores, targets)
    proxies = select_proxy_columns(scores, proxies)
    flip = [p for p, hib in (higher_is_better or {}).items() if not hib and p in scores.columns]
    if flip:
        scores = scores.copy()
        scores[flip] = -scores[flip]
    if not target_higher_is_better:
        targets = -targets
    f_lab = _fraction_label(fraction)
    kf_lab = _fraction_label(k_fraction)
    c_top_s, c_top_k, c_overlap = f"top{f_lab}_spearman", f"top{f_lab}_kendall", f"top{f_lab}_overlap"
    c_hits = f"top{int(k)}_in_top{kf_lab}"
    t = targets.to_numpy(dtype=float, na_value=np.nan)

    def row(values: np.ndarray) -> dict[str, float | int]:
        rho = spearman(values, t)
        return {
            "spearman": rho.value,
            "kendall": kendall(values, t).value,
            c_top_s: top_fraction_correlation(values, t, fraction, "spearman").value,
            c_top_k: top_fraction_correlation(values, t, fraction, "kendall").value,
            c_overlap: top_fraction_overlap(values, t, fraction).value,
            c_hits: top_k_hits(values, t, k, k_fraction).value,
            "n": rho.n,
            "n_nan": rho.n_dropped,
        }

    rows = {p: row(scores[p].to_numpy(dtype=float, na_value=np.nan)) for p in proxies}
    with_vote = bool(vote_proxies) and all(p in proxies for p in vote_proxies) and "vote" not in proxies
    if with_vote:
        rows["vote"] = row(rank_vote(scores, vote_proxies))
    columns = ["spearman", "kendall", c_top_s, c_top_k, c_overlap, c_hits, "n", "n_nan"]
    table = pd.DataFrame(
        [[r[c] for c in columns] for r in rows.values()], index=pd.Index(list(rows), name="proxy"), columns=columns
    )
    table["n"] = table["n"].astype(int)
    table["n_nan"] = table["n_nan"].astype(int)
    if with_vote:
        table["pairwise_agreement"] = np.nan
        table.loc["vote", "pairwise_agreement"] = vote_agreement(scores, t, vote_proxies).value
    return table
