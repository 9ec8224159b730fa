"""The paper's NB-201 table, reproduced: our committed 1,000-cell run against the reference's own numbers.

Yardstick (a) (../shared/REFERENCE.md and issue #3): the reference implementation run on the CIFAR-10 subset in
../shared/data — normalised, no augmentation, one random batch of 64 per cell, default init, reference cell
variant — gives these Spearman correlations. Ours, run the same way, must land within 0.04 of each. The fast test reads the committed scores; the slow test recomputes a slice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zcnas.benchmarks import load_nb201
from zcnas.evaluation import spearman
from zcnas.scoring.runner import ScoreSettings, score_many
from zcnas.scoring.store import ResultStore

YARDSTICK_A = {"grad_norm": 0.604, "snip": 0.606, "grasp": 0.504, "fisher": 0.294, "synflow": 0.772,
               "jacob_cov": 0.645}
RUN = Path(__file__).resolve().parents[1] / "results" / "nb201_c10_refcompat_s1000"


@pytest.fixture(scope="module")
def committed():
    if not (RUN / "config.json").exists():
        pytest.skip(f"{RUN} is not committed")
    store = ResultStore(RUN, read_only=True)
    return store.pivot(), store.config


def test_committed_run_was_made_the_reference_way(committed):
    scores, config = committed
    assert len(scores) == 1000
    assert config["reference_compatible"] is True and config["augment"] is False
    assert config["batch_size"] == 64 and config["batch_mode"] == "per-cell" and config["data_source"] == "cifar10"


# Which accuracy (a) was correlated with is not stated. The reference's notebook correlates CIFAR-10 proxies with
# the accuracy of the model NAS-Bench-201 trained on the `cifar10-valid` split; of our columns only
# `cifar10_val_200ep` comes from that model (`cifar10_test_200ep` is the model trained on train+valid). Against it
# all six land within 0.04 of (a) (largest gap 0.030, measured 2026-11-27). Against `cifar10_test_200ep`, grad_norm
# and snip come out 0.046 and 0.048 above (a): within sampling noise (a bootstrap of our run gives a standard
# deviation of 0.026 for a 721-cell Spearman, so two independent samples differ by about 0.034 by chance).
REFERENCE_TARGET = "cifar10_val_200ep"


def _rho(committed, proxy: str, target: str) -> float:
    scores, _ = committed
    accuracy = load_nb201().column(target)
    return spearman(scores[proxy], accuracy.reindex(scores.index)).value


@pytest.mark.parametrize("proxy", sorted(YARDSTICK_A))
def test_within_0_04_of_the_reference_run(committed, proxy):
    rho = _rho(committed, proxy, REFERENCE_TARGET)
    assert abs(rho - YARDSTICK_A[proxy]) <= 0.04, f"{proxy}: ours {rho:.3f}, reference {YARDSTICK_A[proxy]}"


@pytest.mark.parametrize("proxy", sorted(YARDSTICK_A))
def test_against_test_accuracy_within_sampling_noise(committed, proxy):
    # 0.07 is about two standard deviations of the difference between two independent samples (see above)
    rho = _rho(committed, proxy, "cifar10_test_200ep")
    assert abs(rho - YARDSTICK_A[proxy]) <= 0.07, f"{proxy}: ours {rho:.3f}, reference {YARDSTICK_A[proxy]}"


def test_jacob_cov_nan_rate_matches_the_reference(committed):
    scores, _ = committed
    ours = scores["jacob_cov"].isna().mean()
    assert abs(ours - 14 / 721) < 0.01   # reference: NaN on 14 of 721 cells; ours 19 of 1,000


@pytest.mark.slow
def test_recomputing_a_slice_gives_the_committed_scores(committed, tmp_path):
    scores, config = committed
    archs = list(scores.index[:20])
    settings = ScoreSettings(proxies=tuple(config["proxies"]), space_options={"reference_compatible": True},
                             seed=config["seed"])
    score_many(archs, settings, tmp_path / "again", quiet=True, dedup=False)
    again = ResultStore(tmp_path / "again", read_only=True).pivot()
    pd.testing.assert_frame_equal(again, scores.loc[archs, again.columns], rtol=1e-4)
    assert np.isfinite(again["synflow"]).all()
