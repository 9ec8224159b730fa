"""Text minibatches (PTB, WikiText-2) and the NAS-Bench-NLP ground-truth table, on the real files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from zcnas.benchmarks import get_benchmark
from zcnas.benchmarks.nbnlp import load_nbnlp, write_cell_file
from zcnas.data.batches import DEFAULT_SOURCES, SOURCES, minibatch
from zcnas.data.paths import data_file
from zcnas.data.text import batchify, load_corpus, text_window
from zcnas.pipeline import read_cell_file
from zcnas.scoring.settings import ScoreSettings

# --- text ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("source, words, train_tokens", [("ptb", 10000, 929589), ("wikitext2", 33278, 2088628)])
def test_vocabulary_and_stream_lengths(source, words, train_tokens):
    corpus = load_corpus(source)
    assert corpus.vocab_size == words and len(corpus.splits["train"]) == train_tokens
    assert corpus.words[int(corpus.splits["train"][-1])] == "<eos>"    # every line ends with <eos>


def test_ptb_ids_follow_first_appearance():
    corpus = load_corpus("ptb")
    with open(data_file("text/ptb/ptb.train.txt", "PTB"), encoding="utf-8") as f:
        first = f.readline().split() + ["<eos>"] + f.readline().split()
    assert [corpus.words[i] for i in corpus.splits["train"][: len(first)]] == first
    assert list(corpus.splits["train"][:5]) == [0, 1, 2, 3, 4]       # "aer banknote berlitz calloway centrust"
    assert not corpus.splits["train"].flags.writeable


def test_batchify_keeps_rows_contiguous():
    rows = batchify(np.arange(23), 4)
    assert rows.shape == (4, 5) and rows[1, 0] == 5 and rows[3, 4] == 19
    with pytest.raises(ValueError, match="cannot fill batch_size=30"):
        batchify(np.arange(23), 30)


def test_a_window_is_seeded_with_next_token_targets():
    x, y = text_window("ptb", batch_size=20, seed=3)
    assert x.shape == y.shape == (20, 70) and x.dtype == y.dtype == torch.int64
    assert torch.equal(x[:, 1:], y[:, :-1])
    rows = batchify(load_corpus("ptb").splits["train"], 20)
    start = int(np.random.default_rng(3).integers(0, rows.shape[1] - 70))   # the documented draw
    assert np.array_equal(rows[:, start:start + 70], x.numpy())
    assert np.array_equal(rows[:, start + 1:start + 71], y.numpy())
    x2, _ = text_window("ptb", batch_size=20, seed=3)
    x3, _ = text_window("ptb", batch_size=20, seed=4)
    assert torch.equal(x, x2) and not torch.equal(x, x3)
    v, _ = text_window("wikitext2", batch_size=2, seed=0, split="valid", bptt=5)
    assert v.shape == (2, 5) and int(v.max()) < 33278


def test_text_errors_name_the_value():
    with pytest.raises(ValueError, match="split 'dev' is not allowed for text"):
        text_window("ptb", split="dev")
    with pytest.raises(ValueError, match="text source 'ptb2' is unknown"):
        text_window("ptb2")
    with pytest.raises(ValueError, match="fewer than bptt"):
        text_window("ptb", batch_size=20, split="valid", bptt=10_000)


def test_text_sources_go_through_minibatch_and_scoring_settings():
    assert SOURCES["ptb"] == 10000 and SOURCES["wikitext2"] == 33278 and SOURCES["cifar10"] == 10
    assert DEFAULT_SOURCES["ptb"] == "ptb" and DEFAULT_SOURCES["cifar10"] == "cifar10"
    x, y = minibatch("ptb", batch_size=20, seed=1)
    x2, y2 = text_window("ptb", 20, 1)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    with pytest.raises(ValueError, match="augment=True is not allowed for the text source 'ptb'"):
        minibatch("ptb", augment=True)
    with pytest.raises(ValueError, match="num_classes=10 does not match source 'ptb', which has 10000 words"):
        minibatch("ptb", num_classes=10)
    settings = ScoreSettings(space="nbnlp", dataset="ptb", batch_size=20, proxies=("snip",))
    assert settings.data_source == "ptb" and settings.num_classes == 10000
    with pytest.raises(ValueError, match="data_source 'cifar10' has 10"):
        ScoreSettings(space="nbnlp", dataset="wikitext2", data_source="cifar10", proxies=("snip",))


# --- the benchmark table -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def table():
    return load_nbnlp()


def test_table_cells_metrics_and_directions(table):
    assert get_benchmark("nbnlp").space == "nbnlp"
    assert len(table) == 236 and table.metrics == ["ptb_test_loss", "wikitext2_val_loss", "wikitext2_test_loss"]
    assert {table.direction(m) for m in table.metrics} == {"min"} and not table.higher_is_better("ptb_test_loss")
    assert len(table.cells_with("ptb_test_loss")) == 192 and len(table.cells_with("wikitext2_test_loss")) == 233
    assert table.split_metric("wikitext2", "val") == "wikitext2_val_loss"
    assert table.split_metric("ptb", "test") == "ptb_test_loss"
    with pytest.raises(ValueError, match="no val metric for dataset 'ptb'"):
        table.split_metric("ptb", "val")


def test_repeated_runs_are_averaged_and_kept(table):
    with open(data_file("nbnlp/nbnlp_ptb_239_runs.json", "PTB runs"), encoding="utf-8") as f:
        ptb = {r["recepie_id"]: r for r in json.load(f)}
    cell = table.cell_at(1001441)
    assert table.recipe_ids(cell) == [1001441, 1003441, 1005441] and table.index_of(cell) == 1001441
    ptb_ids = [i for i in table.recipe_ids(cell) if i in ptb]
    want = float(np.mean([ptb[i]["ptb_final_test_loss"] for i in ptb_ids]))
    assert table.accuracy(cell, "ptb_test_loss") == pytest.approx(want, rel=1e-12)
    runs = table.runs()
    assert len(runs) == 300 and runs["cell"].nunique() == 236
    spread = table.repeat_spread("ptb_test_loss")
    assert len(spread) == 34 and (spread["runs"] >= 2).all()
    assert table.cell_at(1000000) == "lin(x,h0);tanh(0)>0"
    with pytest.raises(KeyError, match="recepie_id 5 is not among"):
        table.cell_at(5)


def test_diverged_runs_are_nan(table):
    cell = table.cell_at(1009182)
    assert math.isnan(table.accuracy(cell, "wikitext2_test_loss"))
    wt2_ok = table.runs()["wikitext2_test_loss"].notna().sum()
    assert wt2_ok == 296


def test_third_party_metrics(table):
    per_cell, per_run = table.third_party(), table.third_party(per_run=True)
    assert per_cell.shape == (192, 12) and len(per_run) == 239
    assert "Jacobian Covariance" in per_cell.columns and set(per_cell.index) == set(table.cells_with("ptb_test_loss"))


def test_a_cell_file_from_the_table_reads_back(table, tmp_path):
    path = tmp_path / "ptb.txt"
    assert write_cell_file(path, "ptb_test_loss", table) == 192
    assert read_cell_file(path, "nbnlp") == table.cells_with("ptb_test_loss")
    ids = tmp_path / "ids.txt"
    ids.write_text("1000000\n# the GRU\n1000002\n")
    assert read_cell_file(ids, "nbnlp") == [table.cell_at(1000000), table.cell_at(1000002)]
