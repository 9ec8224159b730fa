"""zcnas.training on its own terms: the loss falls, the schedule is the cosine formula, the cost is the hand
count, a seed reproduces the run, and bad settings are refused with one sentence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import shared_data_dir
from torch import nn

from zcnas.spaces import register_space, unregister_space
from zcnas.spaces.base import ModelOption, SearchSpace
from zcnas.training import (
    PRESETS,
    ImageData,
    Recipe,
    TrainSettings,
    TrainStore,
    TrainStoreError,
    cell_flops,
    cosine_lr,
    evaluate,
    minibatch_equivalents,
    read_rows,
    reduced_train,
    train_epoch,
)
from zcnas.training.data import subset_indices

needs_data = pytest.mark.skipif(not (shared_data_dir() / "cifar10").is_dir(),
                                reason="the shared CIFAR-10 subset is not available")

#: Small NB-201 settings for real-data runs that take seconds: one cell per stage, 500 training images.
TINY = {"space_options": {"cells_per_stage": 1}, "train_fraction": 0.1}
TIMING = ["seconds", "eval_seconds"]


class ConvSpace(SearchSpace):
    """A one-conv space whose FLOPs are easy to count by hand: conv3x3(3 -> c) + ReLU + GAP + Linear(c -> 10)."""

    name = "test_conv"
    input_shape = (3, 32, 32)
    datasets = {"cifar10": 10}
    model_options = (ModelOption("channels", int, 16, "conv channels", minimum=1),)

    def encode(self, cell):
        return str(cell)

    def decode(self, text):
        return str(text)

    def sample(self, n, rng, replace=False):
        return [str(i) for i in range(n)]

    def build_model(self, cell, num_classes, *, seed=None, **options):
        c = self.check_options(options)["channels"]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0 if seed is None else seed)
            return nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                 nn.Flatten(), nn.Linear(c, num_classes))


class NoChannels(ConvSpace):
    name = "test_nochannels"
    model_options = ()

    def build_model(self, cell, num_classes, *, seed=None, **options):
        return super().build_model(cell, num_classes, seed=seed, channels=4)


@pytest.fixture
def conv_space():
    register_space(ConvSpace)
    register_space(NoChannels)
    yield "test_conv"
    unregister_space("test_conv")
    unregister_space("test_nochannels")


def _blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two classes of 8x8 images told apart by the brightness of the red channel (a problem SGD must solve)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.integers(0, 120, (n, 8, 8, 3)).astype(np.uint8)
    x[y == 1, :, :, 0] += 120
    return x, y


# --------------------------------------------------------------------------- the loss falls


def test_loss_decreases_on_a_tiny_problem():
    x, y = _blobs(256, 0)
    data = ImageData(x, y, x, y, resolution=8, augment=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                            nn.Linear(4, 2))
    before, _ = evaluate(net, data.val_inputs, data.val_targets)
    opt = Recipe(lr=0.05).optimizer(net.parameters())
    losses = [train_epoch(net, opt, data.train_batches(np.random.default_rng(e), 32)).loss for e in range(8)]
    after, acc_after = evaluate(net, data.val_inputs, data.val_targets)
    assert before == pytest.approx(math.log(2), abs=0.1)
    assert after < 0.25 * before and acc_after > 95.0
    assert losses[-1] < losses[0] and all(math.isfinite(v) for v in losses)


@needs_data
def test_reduced_training_learns_real_cifar(tmp_path):
    reduced_train("nb201", 1, 0, "econas", tmp_path, epochs=4, quiet=True, **TINY)
    rows = read_rows(tmp_path).sort_values("epoch")
    assert rows["train_loss"].iloc[-1] < rows["train_loss"].iloc[0] < math.log(10) + 0.2
    assert rows["val_acc"].iloc[-1] > 15.0  # 10% is chance on the 1,000 validation images


# --------------------------------------------------------------------------- the schedule


def test_cosine_learning_rates_match_the_formula_and_pytorch():
    assert cosine_lr(0.1, 0, 40) == 0.1
    assert cosine_lr(0.1, 20, 40) == pytest.approx(0.05, abs=1e-15)
    assert cosine_lr(0.1, 10, 40) == pytest.approx(0.1 * (1 + math.sqrt(0.5)) / 2, abs=1e-15)
    assert cosine_lr(0.1, 40, 40) == pytest.approx(0.0, abs=1e-15)
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=12)
    for epoch in range(12):
        assert cosine_lr(0.1, epoch, 12) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="epoch=41 is not allowed"):
        cosine_lr(0.1, 41, 40)


@needs_data
def test_each_epoch_trains_with_the_cosine_rate(tmp_path):
    reduced_train("nb201", 1, 0, "econas", tmp_path, epochs=3, schedule_epochs=4, quiet=True, **TINY)
    rows = read_rows(tmp_path).sort_values("epoch")
    assert rows["lr"].tolist() == pytest.approx([0.1, 0.1 * (1 + math.cos(math.pi / 4)) / 2, 0.05], abs=1e-15)


# --------------------------------------------------------------------------- cost accounting


def test_cost_matches_a_hand_count(conv_space):
    from zcnas.spaces import get_space

    reduced, full = cell_flops(get_space(conv_space), "0", 10, {"channels": 4}, 8)
    # conv: 2 FLOPs per multiply-accumulate, 3*4*9 MACs per output pixel, 8*8 pixels; linear: 2*4*10
    assert reduced == 2 * 3 * 4 * 9 * 8 * 8 + 2 * 4 * 10 == 13_904
    assert full == 2 * 3 * 16 * 9 * 32 * 32 + 2 * 16 * 10 == 885_056
    # 100 samples, forward+backward = 3 forwards, against 3 forwards of the full network on 64 samples
    assert minibatch_equivalents(reduced, 100, full) == pytest.approx(3 * 13_904 * 100 / (3 * 885_056 * 64))
    assert minibatch_equivalents(full, 64, full) == 1.0
    assert minibatch_equivalents(full, 5000, full) == 5000 / 64


@needs_data
def test_rows_carry_the_hand_counted_cost(conv_space, tmp_path):
    reduced_train(conv_space, 1, 0, "econas", tmp_path, epochs=2, train_fraction=0.02, quiet=True)
    rows = read_rows(tmp_path).sort_values("epoch")
    assert rows["samples"].tolist() == [100, 100]
    assert rows["flops_per_sample"].tolist() == [13_904, 13_904]
    assert rows["full_flops_per_sample"].tolist() == [885_056, 885_056]
    one = 13_904 * 100 / (885_056 * 64)
    assert rows["cost"].tolist() == pytest.approx([one, one], rel=1e-12)
    assert rows["cum_cost"].tolist() == pytest.approx([one, 2 * one], rel=1e-12)


@needs_data
def test_a_full_size_epoch_costs_samples_over_64(tmp_path):
    reduced_train("nb201", 1, 0, "full", tmp_path, epochs=1, train_fraction=0.02,
                  space_options={"cells_per_stage": 1}, quiet=True)
    rows = read_rows(tmp_path)
    # full size here means the space's defaults, 5 cells per stage; the run trained 1 per stage, so it is cheaper
    assert rows["cost"].iloc[0] < 100 / 64
    reduced_train("nb201", 1, 0, "full", tmp_path / "b", epochs=1, train_fraction=0.02, quiet=True)
    assert read_rows(tmp_path / "b")["cost"].iloc[0] == pytest.approx(100 / 64, rel=1e-12)


# --------------------------------------------------------------------------- seeds


@needs_data
def test_a_seed_reproduces_the_run(tmp_path):
    a = reduced_train("nb201", 2, 3, "econas", tmp_path / "a", epochs=2, quiet=True, **TINY)
    b = reduced_train("nb201", 2, 3, "econas", tmp_path / "b", epochs=2, quiet=True, **TINY)
    reduced_train("nb201", 2, 4, "econas", tmp_path / "c", epochs=2, quiet=True, **TINY)
    assert a.trained == b.trained == 2
    ra, rb, rc = (read_rows(tmp_path / k).drop(columns=TIMING) for k in "abc")
    key = ["cell", "epoch"]
    ra, rb = ra.sort_values(key).reset_index(drop=True), rb.sort_values(key).reset_index(drop=True)
    assert ra.equals(rb)
    assert set(rc["cell"]) != set(ra["cell"])  # another seed draws other cells


@needs_data
def test_the_same_cells_with_another_seed_train_differently(tmp_path):
    cells = ["|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"]
    for seed in (0, 1):
        reduced_train("nb201", None, seed, "econas", tmp_path / str(seed), cells=cells, epochs=1, quiet=True, **TINY)
    a, b = read_rows(tmp_path / "0"), read_rows(tmp_path / "1")
    assert a["train_loss"].iloc[0] != b["train_loss"].iloc[0]


# --------------------------------------------------------------------------- resuming


@needs_data
def test_a_time_limit_stops_after_an_epoch_and_a_rerun_finishes_identically(tmp_path):
    args = ("nb201", 2, 0, "econas", tmp_path / "cut")
    first = reduced_train(*args, epochs=3, time_limit=1e-9, quiet=True, **TINY)
    assert not first.finished and first.trained == 0 and first.epochs_trained == 1
    second = reduced_train(*args, epochs=3, quiet=True, **TINY)
    assert second.finished and second.trained == 2 and list(second.resumed.values()) == [1]
    whole = reduced_train("nb201", 2, 0, "econas", tmp_path / "whole", epochs=3, quiet=True, **TINY)
    assert whole.resumed == {}
    key = ["cell", "epoch"]
    cut = read_rows(tmp_path / "cut").drop(columns=TIMING).sort_values(key).reset_index(drop=True)
    ref = read_rows(tmp_path / "whole").drop(columns=TIMING).sort_values(key).reset_index(drop=True)
    assert cut.equals(ref)


@needs_data
def test_a_finished_run_is_not_retrained(tmp_path):
    reduced_train("nb201", 2, 0, "econas", tmp_path, epochs=1, quiet=True, **TINY)
    again = reduced_train("nb201", 2, 0, "econas", tmp_path, epochs=1, quiet=True, **TINY)
    assert (again.done_before, again.trained, again.epochs_trained) == (2, 0, 0)


@needs_data
def test_other_settings_in_the_same_folder_are_refused(tmp_path):
    reduced_train("nb201", 1, 0, "econas", tmp_path, epochs=1, quiet=True, **TINY)
    with pytest.raises(TrainStoreError, match="was made with epochs=1, not 2"):
        reduced_train("nb201", 1, 0, "econas", tmp_path, epochs=2, quiet=True, **TINY)


# --------------------------------------------------------------------------- the store


def test_a_stale_checkpoint_next_to_a_part_is_removed(tmp_path):
    net = nn.Linear(2, 2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    with TrainStore(tmp_path, {"k": 1}) as store:
        store.save_checkpoint("a", 1, net, opt, [{"cell": "a", "epoch": 1}])
        assert store.load_checkpoint("a")["epoch"] == 1
        # killed after the part was renamed into place but before the checkpoint was deleted:
        path = store.checkpoint_path("a")
        saved = path.read_bytes()
        store.write_cell("a", [{"cell": "a", "epoch": 1}])
        path.write_bytes(saved)
    with TrainStore(tmp_path, {"k": 1}) as store:
        assert not path.exists() and store.done_cells() == {"a"}


def test_an_unreadable_checkpoint_is_reported_with_what_to_do(tmp_path):
    with TrainStore(tmp_path, {"k": 1}) as store:
        path = store.checkpoint_path("a")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not a checkpoint")
        with pytest.raises(TrainStoreError, match="delete it to retrain that cell"):
            store.load_checkpoint("a")


def test_one_writer_per_folder(tmp_path):
    with TrainStore(tmp_path, {"k": 1}):
        with pytest.raises(TrainStoreError, match="in use by another run"):
            TrainStore(tmp_path, {"k": 1})


def test_compact_keeps_every_row_once(tmp_path):
    with TrainStore(tmp_path, {"k": 1}) as store:
        for cell in "abc":
            store.write_cell(cell, [{"cell": cell, "epoch": e, "val_acc": float(e)} for e in (1, 2)])
        store.write_cell("a", [{"cell": "a", "epoch": e, "val_acc": 10.0 * e} for e in (1, 2)])
        store.compact()
        rows = store.rows()
    assert len(rows) == 6 and sorted(rows["cell"]) == list("aabbcc")
    assert rows[rows["cell"] == "a"]["val_acc"].tolist() == [10.0, 20.0]  # the part written last wins
    assert len(list((tmp_path / "rows").glob("*.parquet"))) == 1


# --------------------------------------------------------------------------- data


def test_every_training_image_is_seen_once_per_epoch():
    x = np.arange(10, dtype=np.uint8).repeat(32 * 32 * 3).reshape(10, 32, 32, 3)
    data = ImageData(x, np.arange(10), x[:2], np.arange(2), resolution=32, augment=False)
    labels = torch.cat([t for _, t in data.train_batches(np.random.default_rng(0), 3)])
    assert sorted(labels.tolist()) == list(range(10))
    again = torch.cat([t for _, t in data.train_batches(np.random.default_rng(0), 3)])
    assert labels.equal(again)


def test_training_subset_is_a_seeded_fraction():
    a = subset_indices(5000, 0.1, np.random.default_rng(1))
    assert len(a) == 500 and len(set(a.tolist())) == 500 and a.tolist() == sorted(a.tolist())
    assert np.array_equal(a, subset_indices(5000, 0.1, np.random.default_rng(1)))
    assert subset_indices(5000, 1.0, np.random.default_rng(1)).tolist() == list(range(5000))


# --------------------------------------------------------------------------- settings


def test_presets_are_the_papers_settings():
    eco, plus, full = (TrainSettings.from_preset(p) for p in ("econas", "econas+", "full"))
    assert (eco.resolution, eco.model_options["channels"], eco.epochs, eco.schedule_epochs) == (8, 4, 20, 40)
    assert (plus.resolution, plus.model_options["channels"], plus.epochs, plus.schedule_epochs) == (16, 8, 15, 40)
    assert (full.resolution, full.model_options["channels"], full.epochs, full.schedule_epochs) == (32, 16, 12, 200)
    r = eco.recipe
    assert (r.lr, r.momentum, r.nesterov, r.weight_decay, r.batch_size) == (0.1, 0.9, True, 5e-4, 64)
    over = TrainSettings.from_preset("econas", epochs=5, resolution=12, channels=6, train_fraction=0.5)
    assert (over.epochs, over.resolution, over.model_options["channels"], over.train_fraction) == (5, 12, 6, 0.5)
    assert set(PRESETS) == {"econas", "econas+", "full"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"preset": "fast"}, "preset 'fast' is not known; use one of: econas, econas\\+, full"),
        ({"epochs": 0}, "epochs=0 is not allowed; use an integer in 1..40"),
        ({"epochs": 41}, "epochs=41 is not allowed; use an integer in 1..40"),
        ({"epochs": 2.5}, "epochs=2.5 is not allowed"),
        ({"resolution": 0}, "resolution=0 is not allowed; use an integer >= 1"),
        ({"channels": 0}, "channels=0 is not allowed; use an integer >= 1"),
        ({"train_fraction": 0.0}, "train_fraction=0.0 is not allowed; use a number in \\(0, 1\\]"),
        ({"train_fraction": 1.5}, "train_fraction=1.5 is not allowed"),
        ({"train_fraction": float("nan")}, "train_fraction=nan is not allowed"),
        ({"batch_size": 0}, "batch_size=0 is not allowed"),
        ({"dataset": "mnist"}, "dataset 'mnist' is not available for training; use one of: cifar10, cifar100"),
        ({"space": "nope"}, "unknown space 'nope'"),
        ({"sample": 0}, "sample=0 is not allowed; use an integer in 1..15625"),
        ({"sample": 2, "cells": ["x"]}, "choose exactly one of sample=N and cells"),
        ({"seed": -1}, "seed=-1 is not allowed"),
        ({"out": None}, "out=None is not allowed; give the run folder"),
        ({"threads": 0}, "threads=0 is not allowed"),
        ({"time_limit": 0}, "time_limit=0 is not allowed; use a number of seconds > 0"),
        ({"space_options": {"channels": 3}}, "set channels with channels=..."),
        ({"space_options": {"width": 3}}, "space 'nb201' has no model option 'width'"),
        ({"cells": ["|bad|"], "sample": None}, "is not a NAS-Bench-201 architecture string"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, kwargs, message):
    args = {"space": "nb201", "sample": 2, "seed": 0, "preset": "econas", "out": tmp_path / "run", "quiet": True}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message) as info:
        reduced_train(**args)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "run").exists()


def test_channels_on_a_space_without_them_is_refused(conv_space):
    with pytest.raises(ValueError, match="space 'test_nochannels' has no channels option, so channels=4"):
        TrainSettings.from_preset("econas", space="test_nochannels")
    assert TrainSettings.from_preset("full", space="test_nochannels").resolution == 32
