"""Tests for zcnas.evaluation: rank metrics against scipy, hand examples, the vote against brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from zcnas.evaluation import (
    OverlapResult,
    RankResult,
    correlation_table,
    kendall,
    rank_vote,
    spearman,
    top_fraction_correlation,
    top_fraction_overlap,
    top_k_hits,
    vote_agreement,
)

# ------------------------------------------------------------------------------------ spearman / kendall


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spearman_kendall_match_scipy_on_random_data_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 12, size=80).astype(float)  # many ties
    y = x * 0.3 + rng.normal(size=80)
    y[:10] = np.round(y[:10])
    assert spearman(x, y).value == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert kendall(x, y).value == pytest.approx(stats.kendalltau(x, y, variant="b").statistic, abs=1e-12)
    assert spearman(x, y) == RankResult(spearman(x, y).value, 80, 0)


def test_hand_example_with_ties() -> None:
    # Scores have one tie: ranks 1, 2.5, 2.5, 4; targets ranks 1, 2, 3, 4 -> Pearson of the ranks.
    s, t = [1.0, 2.0, 2.0, 3.0], [10.0, 20.0, 30.0, 40.0]
    rs = np.array([1, 2.5, 2.5, 4]) - 2.5
    rt = np.array([1, 2, 3, 4]) - 2.5
    expected_rho = (rs @ rt) / math.sqrt((rs @ rs) * (rt @ rt))
    assert spearman(s, t).value == pytest.approx(expected_rho)
    # tau-b: 5 concordant, 0 discordant, 1 tie in scores only -> 5 / sqrt(5 * 6).
    assert kendall(s, t).value == pytest.approx(5 / math.sqrt(30))


def test_nan_and_inf_are_dropped_and_counted() -> None:
    s = np.array([1.0, np.nan, 3.0, 4.0, np.inf, 6.0])
    t = pd.Series([1.0, 2.0, -np.inf, 4.0, 5.0, 5.5])
    r = spearman(s, t)
    assert (r.n, r.n_dropped) == (3, 3)
    assert r.value == pytest.approx(1.0)
    k = kendall(s, t)
    assert (k.value, k.n, k.n_dropped) == (pytest.approx(1.0), 3, 3)
    # pandas nullable floats: NA is missing too.
    r2 = spearman(pd.Series([1.0, None, 3.0, 4.0], dtype="Float64"), [1.0, 2.0, 3.0, 4.0])
    assert (r2.n, r2.n_dropped) == (3, 1)


def test_negative_correlations_stay_negative() -> None:
    x = np.arange(20.0)
    assert spearman(x, -x).value == pytest.approx(-1.0)
    assert kendall(x, -x).value == pytest.approx(-1.0)
    rng = np.random.default_rng(3)
    y = -x + rng.normal(scale=3, size=20)
    assert spearman(x, y).value < 0
    assert spearman(x, y).value == pytest.approx(stats.spearmanr(x, y).statistic)


def test_fewer_than_three_points_or_constant_input_give_nan_not_an_error() -> None:
    r = spearman([1.0, 2.0, np.nan], [1.0, 2.0, 3.0])
    assert math.isnan(r.value) and (r.n, r.n_dropped) == (2, 1)
    assert math.isnan(kendall([], []).value)
    with_const = spearman([1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0])
    assert math.isnan(with_const.value) and with_const.n == 4


def test_input_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="same length"):
        spearman([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="one-dimensional"):
        spearman(np.ones((3, 2)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="fraction"):
        top_fraction_overlap([1, 2, 3], [1, 2, 3], fraction=0)


# ------------------------------------------------------------------------------------ top-fraction metrics

# Ten architectures (positions 0..9). True top 3 by target: 9 (1.0), 1 (0.9), 5 (0.8).
HAND_T = [0.5, 0.9, 0.1, 0.7, 0.3, 0.8, 0.2, 0.6, 0.4, 1.0]
# Proxy top 3 by score: 3 (9), 0 (8), 1 (7); then 5 (6), 9 (5).
HAND_S = [8, 7, 0, 9, 1, 6, 2, 3, 4, 5]


def test_top_fraction_correlation_hand_table() -> None:
    # Over the true top 3: targets 1.0, 0.9, 0.8 (ranks 3, 2, 1), scores 5, 7, 6 (ranks 1, 3, 2).
    # rho = 1 - 6 * (4 + 1 + 1) / (3 * 8) = -0.5; tau: 1 concordant, 2 discordant of 3 -> -1/3.
    r = top_fraction_correlation(HAND_S, HAND_T, fraction=0.3)
    assert r == RankResult(pytest.approx(-0.5), 3, 0)
    k = top_fraction_correlation(HAND_S, HAND_T, fraction=0.3, method="kendall")
    assert k.value == pytest.approx(-1 / 3)
    # The whole-set correlation is positive: only the top is ranked badly.
    assert spearman(HAND_S, HAND_T).value > 0
    with pytest.raises(ValueError, match="method"):
        top_fraction_correlation(HAND_S, HAND_T, method="pearson")  # type: ignore[arg-type]


def test_top_fraction_overlap_hand_table() -> None:
    r = top_fraction_overlap(HAND_S, HAND_T, fraction=0.3)
    assert r == OverlapResult(pytest.approx(1 / 3), 1, 3, 10, 0)  # only position 1 is in both
    r5 = top_fraction_overlap(HAND_S, HAND_T, fraction=0.5)  # true {9,1,5,3,7} vs proxy {3,0,1,5,9}
    assert (r5.hits, r5.size) == (4, 5)
    assert top_fraction_overlap(HAND_S, HAND_T, fraction=1.0).value == 1.0


def test_top_fraction_size_is_ceil_without_float_noise() -> None:
    # 0.1 * 30 == 3.0000000000000004 in floating point: the top set must still have 3 members.
    x = np.arange(30.0)
    assert top_fraction_overlap(x, x, fraction=0.1).size == 3
    assert top_fraction_correlation(x, x, fraction=0.1).n == 3
    assert top_fraction_overlap(np.arange(11.0), np.arange(11.0), fraction=0.1).size == 2  # ceil(1.1)


def test_top_sets_break_ties_by_position() -> None:
    # Targets: positions 0, 1, 2 tie for the best; the top 2 are positions 0 and 1 (earlier wins).
    t = [5.0, 5.0, 5.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    s_hits_2 = [0.0, 0.0, 9.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]  # proxy top 2 = {2, 0}
    r = top_fraction_overlap(s_hits_2, t, fraction=0.2)
    assert (r.hits, r.size) == (1, 2)  # {0, 1} & {2, 0} = {0}
    # Scores tie too: the proxy top 2 of an all-equal score is positions {0, 1}.
    assert top_fraction_overlap(np.zeros(10), t, fraction=0.2).hits == 2
    assert top_k_hits(np.zeros(10), t, k=1, fraction=0.2).value == 1.0


def test_top_k_hits_hand_table() -> None:
    # True top 20% = {9, 1}. Best-scored 2 = {3, 0}: no hit. Best-scored 4 = {3, 0, 1, 5}: one hit.
    r = top_k_hits(HAND_S, HAND_T, k=2, fraction=0.2)
    assert (r.value, r.hits, r.k, r.n_top) == (0.0, 0, 2, 2)
    r4 = top_k_hits(HAND_S, HAND_T, k=4, fraction=0.2)
    assert (r4.value, r4.expected) == (1.0, pytest.approx(0.8))  # random: 4 * 2 / 10
    big = top_k_hits(HAND_S, HAND_T, k=64, fraction=0.2)
    assert (big.k, big.value) == (10, 2.0)  # k capped at n


def test_top_k_hits_paper_default_random_expectation() -> None:
    rng = np.random.default_rng(0)
    t = rng.normal(size=15625)
    r = top_k_hits(rng.normal(size=15625), t)  # k=64, top 5%
    assert r.n_top == 782 and r.expected == pytest.approx(64 * 782 / 15625)  # about 3.2
    perfect = top_k_hits(t, t)
    assert perfect.value == 64.0


def test_top_metrics_drop_nan_first_and_report_it() -> None:
    s = np.array(HAND_S + [np.nan, 100.0], dtype=float)
    t = np.array(HAND_T + [2.0, np.nan])
    assert top_fraction_overlap(s, t, 0.3) == OverlapResult(pytest.approx(1 / 3), 1, 3, 10, 2)
    assert top_fraction_correlation(s, t, 0.3).n_dropped == 2
    assert top_k_hits(s, t, k=4, fraction=0.2).n_dropped == 2
    assert math.isnan(top_k_hits([1.0, 2.0], [1.0, 2.0], k=1).value)
    assert math.isnan(top_fraction_overlap([1.0, 2.0], [1.0, 2.0]).value)


# ------------------------------------------------------------------------------------ vote


def brute_vote(cols: list[np.ndarray], t: np.ndarray) -> tuple[float, int]:
    """O(n^2) plurality vote over unordered pairs: (rate, undecided)."""
    right = tot = undecided = 0
    for i, j in itertools.combinations(range(len(t)), 2):
        ts = np.sign(t[i] - t[j])
        if ts == 0:
            continue
        v = np.sign(sum(np.sign(c[i] - c[j]) for c in cols))
        tot += 1
        right += int(v == ts)
        undecided += int(v == 0)
    return right / tot, undecided


def brute_reference(cols: list[np.ndarray], t: np.ndarray) -> float:
    """The REF notebook's loop semantics: ordered pairs, 'i better' iff at least half the diffs are > 0."""
    right = tot = 0
    for i in range(len(t)):
        for j in range(len(t)):
            if i == j or t[i] - t[j] == 0:
                continue
            numpos = sum(1 if c[i] - c[j] > 0 else 0 for c in cols)
            sign = 1 if numpos >= len(cols) / 2 else -1
            right += 1 if sign * (t[i] - t[j]) > 0 else 0
            tot += 1
    return right / tot


# Targets A < B < C = D: five pairs have different targets, the vote should say "j better" on all of them.
VOTE_T = [1.0, 2.0, 3.0, 3.0]


def test_vote_hand_example_single_voter_wins() -> None:
    cols = {"synflow": [1, 2, 3, 0], "jacob_cov": [1, 1, 2, 3], "snip": [1, 1, 3, 0]}
    # (A,B): -,0,0 -> - right; (A,C): -,-,- right; (A,D): +,-,+ wrong; (B,C): -,-,- right; (B,D): +,-,+ wrong.
    r = vote_agreement(cols, VOTE_T, rule="plurality")
    assert (r.value, r.n_correct, r.n_pairs, r.n_undecided, r.n, r.n_dropped) == (0.6, 3.0, 5, 0, 4, 0)
    # REF semantics: (A,B) has fewer than 2 votes on either side -> half credit: 2.5 / 5.
    ref = vote_agreement(cols, VOTE_T, rule="reference")
    assert (ref.value, ref.n_undecided) == (0.5, 1)
    assert ref.value == pytest.approx(brute_reference([np.asarray(c, float) for c in cols.values()], VOTE_T))


def test_vote_hand_example_tied_majority_is_not_correct() -> None:
    cols = {"synflow": [1, 2, 3, 0], "jacob_cov": [1, 1, 2, 3], "snip": [2, 1, 3, 0]}
    # (A,B): -,0,+ -> tie, not correct; (A,C) right; (A,D) wrong; (B,C) right; (B,D) wrong -> 2 / 5.
    r = vote_agreement(cols, VOTE_T, rule="plurality")
    assert (r.value, r.n_undecided, r.n_pairs) == (0.4, 1, 5)
    assert vote_agreement(cols, VOTE_T, rule="reference").value == 0.5


@pytest.mark.parametrize("seed", [0, 1])
def test_vote_matches_brute_force_on_200_items_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 200
    t = np.round(rng.normal(size=n), 1)  # tied targets
    cols = {name: np.round(t + rng.normal(scale=sc, size=n), 0) for name, sc in
            [("synflow", 0.8), ("jacob_cov", 1.0), ("snip", 1.5)]}  # heavily tied scores
    arrays = list(cols.values())
    expected, undecided = brute_vote(arrays, t)
    r = vote_agreement(cols, t, rule="plurality")
    assert r.value == pytest.approx(expected, abs=1e-15)
    assert r.n_undecided == undecided > 0
    assert vote_agreement(cols, t, rule="reference").value == pytest.approx(brute_reference(arrays, t))


def test_vote_blocks_give_the_same_answer_as_one_block() -> None:
    rng = np.random.default_rng(5)
    n = 301
    t = rng.integers(0, 40, size=n).astype(float)
    cols = {name: rng.integers(0, 30, size=n).astype(float) + t for name in ("synflow", "jacob_cov", "snip")}
    for rule in ("plurality", "reference"):
        whole = vote_agreement(cols, t, rule=rule, block_size=n)
        for bs in (1, 7, 64, 300, 10_000, None):
            assert vote_agreement(cols, t, rule=rule, block_size=bs) == whole


def test_vote_drops_non_finite_rows_and_counts_them() -> None:
    rng = np.random.default_rng(1)
    t = rng.normal(size=50)
    cols = {p: t + rng.normal(size=50) for p in ("synflow", "jacob_cov", "snip")}
    base = vote_agreement(cols, t)
    cols_nan = {p: np.append(v, [np.nan, 1.0, 2.0]) for p, v in cols.items()}
    cols_nan["snip"][-1] = np.inf
    r = vote_agreement(cols_nan, np.append(t, [0.0, np.nan, 0.5]))
    assert (r.value, r.n, r.n_dropped) == (base.value, 50, 3)
    assert r.n_pairs == 50 * 49 // 2


def test_vote_errors_and_degenerate_inputs() -> None:
    with pytest.raises(KeyError, match="snip"):
        vote_agreement({"synflow": [1, 2, 3], "jacob_cov": [1, 2, 3]}, [1, 2, 3])
    with pytest.raises(ValueError, match="rule"):
        vote_agreement({"a": [1, 2, 3]}, [1, 2, 3], proxies=("a",), rule="mean")  # type: ignore[arg-type]
    assert math.isnan(vote_agreement({"a": [1, 2]}, [1, 2], proxies=("a",)).value)
    assert math.isnan(vote_agreement({"a": [1, 2, 3]}, [1, 1, 1], proxies=("a",)).value)  # no pair differs


def test_vote_on_a_dataframe_with_a_different_member_set() -> None:
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [4.0, 3.0, 2.0, 1.0]})
    assert vote_agreement(df, [1, 2, 3, 4], proxies=("a",)).value == 1.0
    assert vote_agreement(df, [1, 2, 3, 4], proxies=("b",)).value == 0.0
    assert vote_agreement(df, [1, 2, 3, 4], proxies=("a", "b")).n_undecided == 6  # 2 members always tie


# ------------------------------------------------------------------------------------ rank vote


def test_rank_vote_is_the_mean_of_ranks_with_nan_propagation() -> None:
    cols = {"synflow": [10.0, 20.0, 30.0, 40.0, 50.0], "jacob_cov": [5.0, 4.0, 4.0, np.nan, 1.0],
            "snip": [0.1, 0.3, 0.2, 0.4, 0.5]}
    rv = rank_vote(cols)
    keep = [0, 1, 2, 4]
    expected = np.mean(
        [stats.rankdata(np.asarray(c)[keep]) for c in cols.values()], axis=0
    )
    assert np.isnan(rv[3])
    np.testing.assert_allclose(rv[keep], expected)
    # Hand values: synflow ranks 1,2,3,4; jacob_cov 4,2.5,2.5,1; snip 1,3,2,4.
    np.testing.assert_allclose(rv[keep], [2.0, 7.5 / 3, 2.5, 3.0])


def test_rank_vote_spearman_is_the_rank_ensemble() -> None:
    rng = np.random.default_rng(2)
    t = rng.normal(size=300)
    cols = {p: t + rng.normal(size=300) for p in ("synflow", "jacob_cov", "snip")}
    members = [spearman(c, t).value for c in cols.values()]
    assert spearman(rank_vote(cols), t).value > max(members)  # independent noise averages out


# ------------------------------------------------------------------------------------ correlation table


def _toy_table(n: int = 60, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    idx = [f"arch{i:03d}" for i in range(n)]
    t = pd.Series(rng.normal(size=n), index=idx, name="acc")
    scores = pd.DataFrame(
        {
            "synflow": t.to_numpy() + rng.normal(scale=0.5, size=n),
            "jacob_cov": t.to_numpy() + rng.normal(scale=0.7, size=n),
            "snip": t.to_numpy() + rng.normal(scale=1.0, size=n),
            "grasp": -t.to_numpy() + rng.normal(scale=1.0, size=n),
        },
        index=idx,
    )
    return scores, t


def test_correlation_table_columns_values_and_vote_row() -> None:
    scores, t = _toy_table()
    scores.iloc[3, 1] = np.nan  # one jacob_cov NaN
    table = correlation_table(scores, t)
    assert list(table.index) == ["synflow", "jacob_cov", "snip", "grasp", "vote"]
    assert table.index.name == "proxy"
    assert list(table.columns) == ["spearman", "kendall", "top10_spearman", "top10_kendall", "top10_overlap",
                                   "top64_in_top5", "n", "n_nan", "pairwise_agreement"]
    assert table.loc["synflow", "spearman"] == pytest.approx(stats.spearmanr(scores["synflow"], t).statistic)
    assert table.loc["grasp", "spearman"] < 0  # signed
    assert table.loc["jacob_cov", "n_nan"] == 1 and table.loc["jacob_cov", "n"] == 59
    assert table.loc["vote", "n_nan"] == 1
    assert table["pairwise_agreement"].drop("vote").isna().all()
    members = scores[["synflow", "jacob_cov", "snip"]]
    assert table.loc["vote", "pairwise_agreement"] == pytest.approx(vote_agreement(members, t).value)
    assert table.loc["vote", "spearman"] == pytest.approx(spearman(rank_vote(members), t).value)
    assert table.loc["synflow", "top10_overlap"] == top_fraction_overlap(scores["synflow"], t).value
    assert table.loc["synflow", "top64_in_top5"] == 3.0  # k capped at n=60, top 5% = 3: all of them
    assert table["n"].dtype.kind == "i"


def test_correlation_table_aligns_by_index() -> None:
    scores, t = _toy_table()
    shuffled = t.sample(frac=1.0, random_state=np.random.RandomState(0))
    extra = pd.concat([shuffled, pd.Series({"not_scored": 0.5})])
    a = correlation_table(scores, t)
    b = correlation_table(scores, extra)
    pd.testing.assert_frame_equal(a, b)
    partial = correlation_table(scores.iloc[:40], t)
    assert (partial["n"] == 40).all()
    with pytest.raises(ValueError, match="share no architecture"):
        correlation_table(scores, pd.Series([1.0], index=["other"]))
    with pytest.raises(ValueError, match="duplicate"):
        correlation_table(pd.concat([scores, scores.iloc[:1]]), t)


def test_correlation_table_without_vote_members_and_options() -> None:
    scores, t = _toy_table()
    table = correlation_table(scores, t, proxies=["synflow", "grasp"], fraction=0.2, k=5)
    assert list(table.index) == ["synflow", "grasp"]
    assert "pairwise_agreement" not in table.columns
    assert {"top20_spearman", "top20_kendall", "top20_overlap", "top5_in_top5"} <= set(table.columns)
    with pytest.raises(KeyError, match="nope"):
        correlation_table(scores, t, proxies=["nope"])
    scores["name"] = "x"  # non-numeric columns are skipped by default
    assert "name" not in correlation_table(scores, t).index


def test_spearman_spread_shrinks_with_sample_size_and_is_seeded() -> None:
    from zcnas.evaluation import spearman_spread

    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    y = x + rng.normal(size=2000)
    small, large = spearman_spread(x, y, 50), spearman_spread(x, y, 1000)
    assert 0 < large < small
    assert small == spearman_spread(x, y, 50)
    # about (1 - rho^2) / sqrt(n) for a bivariate normal
    rho = spearman(x, y).value
    assert large == pytest.approx((1 - rho**2) / np.sqrt(1000), rel=0.35)
