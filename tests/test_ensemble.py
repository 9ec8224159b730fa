"""Rank ensembles: the rules on hand-made tables, the NaN rule, the frozen-reference proxy, the choice."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import zcnas
from zcnas.evaluation.ensemble import choose_ensemble, ensemble_scores, search_ensembles
from zcnas.proxies.ensembles import (
    combine,
    get_ensemble,
    list_ensembles,
    population_fractions,
    reference_fractions,
    register_ensemble,
    unregister_ensemble,
)

TABLE = pd.DataFrame(
    {"a": [10.0, 20.0, 30.0, 40.0], "b": [4.0, 3.0, np.nan, 1.0], "c": [1.0, 1.0, 2.0, 3.0]},
    index=["w", "x", "y", "z"],
)


def test_population_fractions_average_ties_and_put_nan_last():
    assert population_fractions(TABLE["c"].to_numpy()).tolist() == [0.375, 0.375, 0.75, 1.0]
    assert population_fractions(TABLE["b"].to_numpy()).tolist() == [1.0, 0.75, 0.25, 0.5]
    assert population_fractions(np.array([1.0, 2.0]), higher_is_better=False).tolist() == [1.0, 0.5]
    prop = population_fractions(TABLE["b"].to_numpy(), nan_policy="propagate")
    assert np.isnan(prop[2]) and prop[[0, 1, 3]].tolist() == [1.0, 2 / 3, 1 / 3]


def test_mean_and_log_rank_rules_on_a_hand_made_table():
    mean = ensemble_scores(TABLE, ["a", "b"], "mean_rank")
    # a: 1/4, 2/4, 3/4, 4/4; b (NaN last): 4/4, 3/4, 1/4, 2/4
    assert mean.tolist() == [0.625, 0.625, 0.5, 0.75]
    log = ensemble_scores(TABLE, ["a", "b"], "log_rank")
    assert log.tolist() == pytest.approx([math.log(0.25), math.log(0.5 * 0.75), math.log(0.75 * 0.25),
                                          math.log(0.5)])
    assert list(log.index) == list(TABLE.index)


def test_the_nan_rule_worst_or_propagate():
    worst = ensemble_scores(TABLE, ["a", "b"], "mean_rank", nan_policy="worst")
    prop = ensemble_scores(TABLE, ["a", "b"], "mean_rank", nan_policy="propagate")
    assert math.isfinite(worst["y"]) and math.isnan(prop["y"])
    # propagate ranks the others among the three complete rows only: a 1/3, 2/3, 1; b 1, 2/3, 1/3
    assert prop[["w", "x", "z"]].tolist() == pytest.approx([2 / 3, 2 / 3, 2 / 3])
    with pytest.raises(ValueError, match="nan_policy='skip' is not allowed"):
        ensemble_scores(TABLE, ["a", "b"], nan_policy="skip")
    with pytest.raises(ValueError, match="rule='median' is not allowed"):
        ensemble_scores(TABLE, ["a"], rule="median")
    with pytest.raises(KeyError, match=r"\['d'\] are not columns"):
        ensemble_scores(TABLE, ["a", "d"])


def test_reference_fractions_insert_the_value_among_the_reference():
    ref = np.array([1.0, 2.0, 2.0, 3.0])
    got = reference_fractions(np.array([0.0, 2.0, 2.5, 9.0, np.nan]), ref)
    assert got[:4].tolist() == [1 / 5, 3 / 5, 4 / 5, 5 / 5]
    assert got[4] == 1 / 5
    assert np.isnan(reference_fractions(np.array([np.nan]), ref, nan_policy="propagate")[0])
    assert combine([np.array([1.0]), np.array([0.5])], "log_rank")[0] == pytest.approx(math.log(0.5))


@pytest.fixture
def pair_ensemble():
    ref = {"params": [10.0, 40.0, 100.0], "jacob_cov": [-5.0, 0.0, 5.0]}
    register_ensemble("zz_pair", ["params", "jacob_cov"], "log_rank", reference=ref)
    register_ensemble("zz_pair_strict", ["params", "jacob_cov"], "log_rank", reference=ref, nan_policy="propagate")
    yield
    unregister_ensemble("zz_pair")
    unregister_ensemble("zz_pair_strict")


def test_a_registered_ensemble_with_a_reference_is_a_proxy(pair_ensemble):
    assert "zz_pair" in list_ensembles() and "zz_pair" in zcnas.list_proxies(tag="ensemble")
    spec = zcnas.get_proxy("zz_pair")
    assert spec.needs_labels is False and spec.passes == frozenset({"input_jacobian"})
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))       # 39 parameters
    x = torch.randn(4, 3, 2, 2, generator=torch.Generator().manual_seed(0))
    got = zcnas.compute_proxies(net, x, None, ["zz_pair", "jacob_cov"])
    jc = got["jacob_cov"]
    want = math.log(2 / 4) + math.log(reference_fractions(np.array([jc]), np.array([-5.0, 0.0, 5.0]))[0])
    assert got["zz_pair"] == pytest.approx(want)
    # the per-cell value equals the table's reference ranking of the same member values
    table = pd.DataFrame({"params": [39.0], "jacob_cov": [jc]}, index=["m"])
    assert ensemble_scores(table, name="zz_pair", ranking="reference")["m"] == pytest.approx(want)


def test_a_nan_member_ranks_last_or_makes_the_ensemble_nan(pair_ensemble):
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    one = torch.randn(1, 3, 2, 2)                              # jacob_cov needs two samples: NaN
    r = zcnas.compute_proxy_results(net, one, None, ["zz_pair", "zz_pair_strict"])
    assert r["zz_pair"].status == "ok"
    assert r["zz_pair"].value == pytest.approx(math.log(2 / 4) + math.log(1 / 4))
    assert r["zz_pair_strict"].status == "nan" and "at least 2 samples" in r["zz_pair_strict"].reason


def test_reference_ranking_does_not_move_as_cells_are_added(pair_ensemble):
    small = pd.DataFrame({"params": [20.0, 50.0], "jacob_cov": [1.0, -1.0]}, index=["p", "q"])
    big = pd.concat([small, pd.DataFrame({"params": [30.0], "jacob_cov": [0.5]}, index=["r"])])
    a = ensemble_scores(small, name="zz_pair", ranking="reference")
    b = ensemble_scores(big, name="zz_pair", ranking="reference")
    assert a.tolist() == b[["p", "q"]].tolist()
    pa = ensemble_scores(small, name="zz_pair")
    pb = ensemble_scores(big, name="zz_pair")
    assert pa.tolist() != pb[["p", "q"]].tolist()            # population ranks do move


def test_duplicate_or_unknown_members_are_refused():
    with pytest.raises(ValueError, match="distinct member proxies"):
        register_ensemble("zz_bad", ["params", "params"], "mean_rank")
    with pytest.raises(ValueError, match="unknown proxy 'nope'"):
        register_ensemble("zz_bad", ["params", "nope"], "mean_rank")
    with pytest.raises(ValueError, match="no values for member"):
        register_ensemble("zz_bad", ["params", "flops"], "mean_rank", reference={"params": [1.0]})
    assert "zz_bad" not in list_ensembles()


def test_aznas_is_the_log_rank_of_its_three_components_and_flops():
    spec = get_ensemble("aznas")
    assert spec.rule == "log_rank"
    assert spec.members == ("aznas_expressivity", "aznas_progressivity", "aznas_trainability", "flops")


def test_search_and_choose_on_a_selection_split():
    rng = np.random.default_rng(0)
    n = 200
    target = pd.Series(rng.normal(size=n), index=[f"c{i}" for i in range(n)])
    good1 = target + rng.normal(scale=0.5, size=n)
    good2 = target + rng.normal(scale=0.5, size=n)
    noise = pd.Series(rng.normal(size=n), index=target.index)
    table = pd.DataFrame({"g1": good1, "g2": good2, "noise": noise})
    found = search_ensembles(table, target, ["g1", "g2", "noise"], max_members=2,
                             seconds={"g1": 1.0, "g2": 1.0, "noise": 0.1})
    assert len(found) == 3 + 3 * 2
    best = found.iloc[0]
    assert set(best["members"].split(",")) == {"g1", "g2"} and best["seconds"] == 2.0
    chosen = choose_ensemble(found, tolerance=0.0)
    assert chosen["members"] == best["members"]
