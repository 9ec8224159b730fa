"""zcnas.search: each algorithm on its own terms, the variants, exact budgets, seeds, the closed-form
random-search baseline on the real NB-201 table, the study folder and the CLI's errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from zcnas.benchmarks import get_benchmark
from zcnas.benchmarks.base import FrameTable
from zcnas.cli import app
from zcnas.search.base import list_searchers, make_searcher
from zcnas.search.evolution import AgingEvolution
from zcnas.search.loop import run_one
from zcnas.search.predictor import BinaryPredictor, GraphBatch, fit_pairs
from zcnas.search.proxy_source import ComputedSource, TableSource
from zcnas.search.random_search import expected_best_of_k
from zcnas.search.reinforce import Reinforce
from zcnas.search.study import paper_variants, run_search, summarise, variant_for
from zcnas.search.trainer import TabularTrainer, TrainResult
from zcnas.spaces import get_space

SPACE = get_space("nb201")
CELLS = [SPACE.encode(c) for c in SPACE.cells()]


def toy_table(seed: int = 0) -> FrameTable:
    """Random distinct accuracies for every NB-201 cell; test = val + small noise."""
    rng = np.random.default_rng(seed)
    val = rng.permutation(len(CELLS)).astype(float) / 100.0
    test = val + rng.normal(0, 0.5, len(CELLS))
    return FrameTable(pd.DataFrame({"toy_val": val, "toy_test": test}, index=CELLS), space="nb201")


TABLE = toy_table()
TRAINER = TabularTrainer(TABLE, "toy")
VAL = TABLE.column("toy_val")
#: a proxy equal to the validation accuracy: the perfect proxy
PERFECT = TableSource(VAL, "perfect", higher_is_better=True)

ALL_VARIANTS = [(a, v) for a in ("random", "evolution", "reinforce", "predictor") for v in paper_variants(a)]


@pytest.mark.parametrize("algo,variant", ALL_VARIANTS, ids=[f"{a}-{v.name}" for a, v in ALL_VARIANTS])
def test_budgets_are_exact_no_cell_is_trained_twice_and_seeds_reproduce(algo, variant):
    options = {"epochs": 2, "warmup_epochs": 2, "hidden": 16} if algo == "predictor" else {}
    kwargs = dict(budget=70, proxy=PERFECT, warmup=variant.warmup, move=variant.move, options=options)
    a = run_one(SPACE, TRAINER, algo, seed=3, **kwargs).trajectory
    b = run_one(SPACE, TRAINER, algo, seed=3, **kwargs).trajectory
    c = run_one(SPACE, TRAINER, algo, seed=4, **kwargs).trajectory
    assert a["trained"].tolist() == list(range(1, 71))
    assert a["arch"].is_unique
    pd.testing.assert_frame_equal(a, b)
    if variant.warmup < len(CELLS):  # a warmup over the whole space ranks every cell: then no seed matters
        assert a["arch"].tolist() != c["arch"].tolist()
    assert a["val_acc"].tolist() == VAL.loc[a["arch"]].tolist()
    assert a["best_val"].is_monotonic_increasing


def test_random_search_matches_the_closed_form_best_of_k_on_the_real_table():
    table = get_benchmark("nb201")
    trainer = TabularTrainer(table, "cifar100")
    val, test = table.column("cifar100_val_200ep"), table.column("cifar100_test_200ep")
    curves = np.stack([run_one(SPACE, trainer, "random", budget=100, seed=s).trajectory["best_test"].to_numpy()
                       for s in range(300)])
    for k in (1, 5, 20, 100):
        expected = expected_best_of_k(val, test, k)
        got, se = curves[:, k - 1].mean(), curves[:, k - 1].std(ddof=1) / np.sqrt(len(curves))
        assert abs(got - expected) < 4 * se + 1e-9, (k, got, expected, se)
    # and the baseline grows with k, as a best-of-k must
    assert expected_best_of_k(val, test, 5) < expected_best_of_k(val, test, 100)


def test_expected_best_of_k_by_enumeration_with_ties():
    val = pd.Series([1.0, 2.0, 2.0, 3.0])
    test = pd.Series([10.0, 20.0, 40.0, 30.0])
    # pairs: (0,1)->20 (0,2)->40 (0,3)->30 (1,2)->30 mean of tie (1,3)->30 (2,3)->30
    assert expected_best_of_k(val, test, 2) == pytest.approx((20 + 40 + 30 + 30 + 30 + 30) / 6)


def test_aging_evolution_removes_the_oldest_and_mutates_the_tournament_best():
    s = AgingEvolution(SPACE, seed=0, population=4, tournament=2)
    told = []
    for _ in range(4):
        cell = s.ask()
        told.append(cell)
        s.tell(TRAINER.train(cell))
    child = s.ask()
    parent = s.parent
    # the parent is the best-by-validation of the members the tournament sampled, so no sampled member beats it
    assert parent.cell in told
    assert child in {SPACE.encode(n) for n in SPACE.neighbours(parent.cell)}
    s.tell(TRAINER.train(child))
    assert [r.cell for r in s.population] == told[1:] + [child]  # the oldest went


def test_the_tournament_picks_the_best_of_the_sample():
    s = AgingEvolution(SPACE, seed=1, population=5, tournament=5)  # tournament = the whole population
    for cell in CELLS[:5]:
        s.ask()
        s.tell(TrainResult(cell, float(CELLS.index(cell) == 2), 0.0))
    s.ask()
    assert s.parent.cell == CELLS[2]


def test_warmup_seeds_from_the_top_scored_cells():
    s = make_searcher("random", SPACE, seed=0, proxy=PERFECT, warmup=len(CELLS))
    top = VAL.sort_values(ascending=False).index[:10].tolist()
    assert [s.ask() for _ in range(1)] == top[:1]
    e = AgingEvolution(SPACE, seed=0, proxy=PERFECT, warmup=len(CELLS), population=8, tournament=2)
    firsts = []
    for _ in range(8):
        cell = e.ask()
        firsts.append(cell)
        e.tell(TRAINER.train(cell))
    assert firsts == top[:8]


def test_the_move_proposal_picks_the_proxy_best_neighbour():
    e = AgingEvolution(SPACE, seed=0, proxy=PERFECT, move=True, random_move=0.0, population=2, tournament=2)
    for _ in range(2):
        e.tell(TRAINER.train(e.ask()))
    child = e.ask()
    neighbours = [SPACE.encode(n) for n in SPACE.neighbours(e.parent.cell)]
    assert child == max(neighbours, key=lambda c: VAL.loc[c])


def test_reinforce_moves_toward_rewarded_choices():
    s = Reinforce(SPACE, seed=0, lr=0.1)
    target = CELLS[123]
    before = s.probabilities()[np.arange(6), s.coding.vector(target)].prod()
    for _ in range(200):
        cell = s.ask()
        s.tell(TrainResult(cell, 1.0 if cell == target else float(np.mean(
            [a == b for a, b in zip(s.coding.vector(cell), s.coding.vector(target))])), 0.0))
    after = s.probabilities()[np.arange(6), s.coding.vector(target)].prod()
    assert after > 20 * before


def test_reinforce_warmup_fits_the_policy_to_the_proxy_elite():
    s = Reinforce(SPACE, seed=0, proxy=PERFECT, warmup=len(CELLS), elite=64)
    elite = VAL.sort_values(ascending=False).index[:64]
    counts = np.zeros((6, 5))
    for cell in elite:
        counts[np.arange(6), s.coding.vector(cell)] += 1
    assert np.allclose(s.probabilities(), (counts + 1) / (64 + 5))


def test_the_predictor_learns_a_known_order():
    # target: the number of 3x3 convolutions in the cell; after training the predictor ranks by it
    known = np.array([c.count("nor_conv_3x3") for c in CELLS], dtype=float)
    rng = np.random.default_rng(0)
    train = rng.choice(len(CELLS), 300, replace=False)
    source = TableSource(pd.Series(known, index=CELLS), "known", higher_is_better=True)
    s = BinaryPredictor(SPACE, seed=0, proxy=source, warmup=1)  # checks construction with warmup
    graphs = GraphBatch(s.coding, [CELLS[i] for i in train])
    fit_pairs(s.model, graphs, known[train], epochs=30, batch=64, lr=3e-3, weight_decay=0.0, generator=s.generator)
    test = np.setdiff1d(np.arange(len(CELLS)), train)[:2000]
    pool = GraphBatch(s.coding, [CELLS[i] for i in test])
    s.model.eval()
    pred = s.model.score(pool.adj, pool.labels)
    rho = pd.Series(pred).corr(pd.Series(known[test]), method="spearman")
    assert rho > 0.9


def test_a_perfect_proxy_warmup_beats_plain_random_search():
    plain = np.mean([run_one(SPACE, TRAINER, "random", budget=10, seed=s).trajectory["best_test"].iloc[-1]
                     for s in range(20)])
    warm = np.mean([run_one(SPACE, TRAINER, "random", budget=10, seed=s, proxy=PERFECT,
                            warmup=1000).trajectory["best_test"].iloc[-1] for s in range(20)])
    assert warm > plain


def test_on_the_fly_proxy_scores_are_computed_once_per_cell():
    calls = []

    def score(cells):
        calls.extend(cells)
        return [VAL.loc[c] for c in cells]

    source = ComputedSource(score, "fly", higher_is_better=True)
    out = run_one(SPACE, TRAINER, "evolution", budget=80, seed=0, proxy=source, move=True,
                  options={"population": 8, "tournament": 4})
    assert len(calls) == len(set(calls)) == out.proxy_computed > 0


def test_study_folder_resumes_and_reproduces(tmp_path):
    runs = [("random", variant_for("random")), ("random", variant_for("random", warmup=500))]
    first = run_search(SPACE, TRAINER, runs, seeds=[0, 1], budget=12, out=tmp_path, dataset="toy", proxy=PERFECT)
    part = tmp_path / "parts" / "random__plain__s1.parquet"
    part.unlink()
    again = run_search(SPACE, TRAINER, runs, seeds=[0, 1], budget=12, out=tmp_path, dataset="toy", proxy=PERFECT)
    pd.testing.assert_frame_equal(first, again)
    assert set(first.columns) >= {"algo", "variant", "dataset", "seed", "trained", "arch", "val_acc", "test_acc",
                                  "best_val", "best_test", "best_test_seen"}
    assert len(first) == 2 * 2 * 12
    with pytest.raises(ValueError, match="other settings"):
        run_search(SPACE, TRAINER, runs, seeds=[0], budget=13, out=tmp_path, dataset="toy", proxy=PERFECT)
    table = summarise(first, levels=[first["best_test"].max()], milestones=[1, 12])
    assert table.loc[table["variant"] == "plain", "speedup@" + f"{first['best_test'].max():g}"].iloc[0] in (1.0,) \
        or np.isnan(table.loc[table["variant"] == "plain", "reach " + f"{first['best_test'].max():g}"].iloc[0])


def test_bad_variants_are_refused_with_what_is_allowed():
    with pytest.raises(ValueError, match="no move proposal"):
        variant_for("random", move=True)
    with pytest.raises(ValueError, match="candidate count"):
        variant_for("reinforce", move=True)
    with pytest.raises(ValueError, match="budget=10 is below the 64"):
        run_search(SPACE, TRAINER, [("evolution", variant_for("evolution", warmup=100))], seeds=[0], budget=10,
                   out="/nonexistent/never", dataset="toy", proxy=PERFECT)
    assert list_searchers() == ["evolution", "predictor", "random", "reinforce"]


@pytest.mark.parametrize("args,needle", [
    (["--algo", "bogus"], "unknown algo 'bogus'"),
    (["--dataset", "imagenet"], "dataset 'imagenet'"),
    (["--algo", "evolution", "--warmup", "3000", "--budget", "20"], "budget=20 is below"),
    (["--algo", "random", "--warmup", "100", "--proxy", "nonesuch"], "proxy 'nonesuch'"),
    (["--algo", "random", "--move"], "no move proposal"),
    (["--seeds", "0"], "seeds"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, args, needle):
    result = CliRunner().invoke(app, ["search", "--out", str(tmp_path / "s"), *args])
    assert result.exit_code == 2, result.output
    assert needle in result.output and "Traceback" not in result.output


def test_cli_search_writes_trajectories_and_a_report(tmp_path):
    out = tmp_path / "s"
    args = ["search", "--out", str(out), "--algo", "random", "--warmup", "1000", "--budget", "15", "--seeds", "3",
            "--dataset", "cifar10"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out / "trajectories.parquet")
    assert sorted(frame["seed"].unique()) == [0, 1, 2] and frame["variant"].unique().tolist() == ["warmup1000"]
    assert (out / "search.png").read_bytes()[:4] == b"\x89PNG" and "| random |" in (out / "report.md").read_text()
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0
    pd.testing.assert_frame_equal(frame, pd.read_parquet(out / "trajectories.parquet"))
