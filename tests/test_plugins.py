"""A new space and a new benchmark are one module each: a toy space and table defined here go through
``zcnas.score``, ``zcnas.correlate``, the ``Scorer`` and the CLI with no edit anywhere else."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

import zcnas
from zcnas.benchmarks import FrameTable, get_benchmark, register_benchmark, unregister_benchmark
from zcnas.cli import app
from zcnas.scoring import Scorer, ScoreSettings
from zcnas.scoring.store import ResultStore
from zcnas.spaces import ModelOption, SearchSpace, get_space, list_spaces, register_space, unregister_space

WIDTHS = tuple(range(1, 9))


class ToySpace(SearchSpace):
    """Cells are widths "w1".."w8" of a one-conv network; "w3" and "w5" are declared equal for sharing."""

    name = "toy"
    description = "one conv of width w"
    input_shape = (3, 8, 8)
    datasets = {"cifar10": 10}
    model_options = (ModelOption("bias", bool, True, "conv bias"),)
    benchmark = "toy"

    def encode(self, cell) -> str:
        text = f"w{int(cell)}" if not isinstance(cell, str) else cell
        if text not in {f"w{w}" for w in WIDTHS}:
            raise ValueError(f"{cell!r} is not a toy cell; use w1..w8")
        return text

    def decode(self, text: str) -> int:
        return int(self.encode(text)[1:])

    @property
    def size(self) -> int:
        return len(WIDTHS)

    def cells(self):
        return iter(WIDTHS)

    def sample(self, n, rng, replace=False):
        return [int(w) for w in rng.choice(WIDTHS, size=n, replace=replace)]

    def neighbours(self, cell):
        w = self.decode(self.encode(cell))
        return [v for v in (w - 1, w + 1) if v in WIDTHS]

    def dedup_key(self, cell):
        return None

    def build_model(self, cell, num_classes, *, seed=None, **options):
        options = self.check_options(options)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0 if seed is None else seed)
            w = self.decode(self.encode(cell))
            return nn.Sequential(nn.Conv2d(3, w, 3, bias=options["bias"]), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                 nn.Flatten(), nn.Linear(w, num_classes))


def toy_table(path=None) -> FrameTable:
    cells = [f"w{w}" for w in WIDTHS]
    frame = pd.DataFrame({"cifar10_test_acc": [50.0 + w for w in WIDTHS],
                          "cifar10_val_acc": [49.0 + w for w in WIDTHS],
                          "cifar10_test_loss": [3.0 - 0.1 * w for w in WIDTHS]}, index=cells)
    return FrameTable(frame, space="toy", directions={"cifar10_test_loss": "min"})


@pytest.fixture
def toy():
    register_space(ToySpace)
    register_benchmark("toy", space="toy", loader=toy_table)
    yield get_space("toy")
    unregister_space("toy")
    unregister_benchmark("toy")


SYNTH = dict(data_source="synthetic", batch_size=4)


def test_a_registered_space_is_listed_and_checks_its_options(toy):
    assert "toy" in list_spaces()
    assert toy.check_options({}) == {"bias": True}
    with pytest.raises(ValueError, match="bias=3 is not allowed; use true or false"):
        toy.check_options({"bias": 3})
    with pytest.raises(ValueError, match="no model option 'width'"):
        ScoreSettings(space="toy", space_options={"width": 2})
    assert get_benchmark("toy").split_metric("cifar10", "val") == "cifar10_val_acc"


def test_toy_space_through_score_and_correlate(toy, tmp_path):
    out = tmp_path / "run"
    summary = zcnas.score(out, space="toy", all_cells=True, proxies=["params", "synflow", "snip"], quiet=True, **SYNTH)
    assert (summary.computed, summary.errors) == (8, 0)
    params = ResultStore(out, read_only=True).pivot()["params"]
    assert params["w2"] == 3 * 2 * 9 + 2 + 2 * 10 + 10
    result = zcnas.correlate(out)                           # default target: the dataset's test metric
    assert result.table.loc["params", "spearman"] == pytest.approx(1.0)
    # a loss target is read lower-is-better: params still ranks perfectly, with a positive sign
    loss = zcnas.correlate(out, "cifar10_test_loss", report_dir=tmp_path / "loss")
    assert loss.table.loc["params", "spearman"] == pytest.approx(1.0)
    assert (tmp_path / "loss" / "correlation.md").is_file()


def test_toy_space_through_the_cli(toy, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli"
    result = runner.invoke(app, ["score", "--space", "toy", "--sample", "5", "--proxies", "params,grad_norm",
                                 "--data-source", "synthetic", "--batch-size", "4", "--model-option", "bias=false",
                                 "--quiet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "5 architectures: 5 scored" in result.output
    assert ResultStore(out, read_only=True).config["bias"] is False
    result = runner.invoke(app, ["correlate", str(out)])
    assert result.exit_code == 0, result.output
    assert "| params |" in result.output
    listing = runner.invoke(app, ["spaces"])
    assert "toy: one conv of width w" in listing.output and "--model-option bias" in listing.output


def test_a_scorer_called_cell_by_cell_computes_each_cell_once(toy, monkeypatch):
    import zcnas.scoring.runner as runner_module

    calls = []
    real = runner_module.score_cell

    def counting(task):
        calls.append(task[0])
        return real(task)

    monkeypatch.setattr(runner_module, "score_cell", counting)
    settings = ScoreSettings(space="toy", proxies=("params", "snip"), **SYNTH)
    with Scorer("toy", settings) as scorer:
        first = scorer.score([3])
        again = scorer.score(["w3", 4])
    assert calls == ["w3", "w4"]
    assert list(again.index) == ["w3", "w4"] and again.loc["w3", "snip"] == first.loc["w3", "snip"]


def test_sample_is_seeded_through_the_protocol(toy):
    a = toy.sample(4, np.random.default_rng(3))
    assert a == toy.sample(4, np.random.default_rng(3))
    assert toy.mutate(1, np.random.default_rng(0)) == 2        # w1's only neighbour
