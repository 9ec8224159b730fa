"""zcnas.evaluation: rank metrics between proxy scores and trained accuracies (the paper's evaluation).

Example:
    >>> from zcnas.evaluation import spearman
    >>> spearman([1, 2, 3], [0.1, 0.3, 0.2]).value
    0.5
"""

from __future__ import annotations

from zcnas.evaluation.rank import (
    VOTE_PROXIES,
    OverlapResult,
    RankResult,
    TopKHitsResult,
    VoteResult,
    align_by_index,
    correlation_table,
    kendall,
    rank_vote,
    spearman,
    spearman_spread,
    top_fraction_correlation,
    top_fraction_overlap,
    top_k_hits,
    vote_agreement,
)
from zcnas.evaluation.summary import correlation_summary

__all__ = [
    "VOTE_PROXIES",
    "OverlapResult",
    "RankResult",
    "TopKHitsResult",
    "VoteResult",
    "align_by_index",
    "correlation_summary",
    "correlation_table",
    "kendall",
    "rank_vote",
    "spearman",
    "spearman_spread",
    "top_fraction_correlation",
    "top_fraction_overlap",
    "top_k_hits",
    "vote_agreement",
]
