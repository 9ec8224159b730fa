"""Tests for zcnas.benchmarks: the NB201 table, the compact CSV and the official-file loaders."""

from __future__ import annotations

import bz2
import math
import os
import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from zcnas.benchmarks import (
    NB201_OPS,
    BenchmarkIndexError,
    BenchmarkKeyError,
    NB201Table,
    is_nb201_arch,
    load_nb201,
    load_nb201_official,
)
from zcnas.data import UnsafePickleError, data_dir

FIRST_ARCH = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"


@pytest.fixture(scope="module")
def table() -> NB201Table:
    try:
        path = data_dir() / "nb201" / "nb201_accuracies.csv"
    except FileNotFoundError:
        pytest.skip("the shared data folder is not available")
    if not path.is_file():
        pytest.skip("the NB201 table is not available")
    return load_nb201()


# ---------------------------------------------------------------- the compact CSV


def test_csv_facts(table):
    assert len(table) == 15625 and table.total == 15625
    assert table.metrics == [
        "cifar10_test_200ep",
        "cifar100_test_200ep",
        "cifar10_val_200ep",
        "cifar100_val_200ep",
        "cifar10_test_12ep",
        "cifar10_val_12ep",
        "cifar100_test_12ep",
        "cifar100_val_12ep",
    ]
    c10 = table.column("cifar10_test_200ep")
    c100 = table.column("cifar100_test_200ep")
    assert table.index_of(c10.idxmax()) == 6111 and round(c10.max(), 2) == 94.37
    assert table.index_of(c100.idxmax()) == 9930 and round(c100.max(), 2) == 73.51
    assert table.accuracy(6111, "cifar10_test_200ep") == pytest.approx(94.37, abs=0.005)
    assert table.accuracy(table.arch_at(9930), "cifar100_test_200ep") == pytest.approx(73.51, abs=0.005)
    assert not table.frame.isna().any().any()
    assert table.arch_at(0) == FIRST_ARCH
    assert load_nb201() is table  # cached


def test_index_arch_round_trip_all(table):
    archs = table.archs
    assert len(archs) == len(set(archs)) == 15625
    assert table.indices == list(range(15625))
    for i in range(15625):
        arch = table.arch_at(i)
        assert arch == archs[i] and table.index_of(arch) == i
    assert all(is_nb201_arch(a) for a in archs)
    # the file is the benchmark itself: all 5**6 cells, each once
    ops = {tuple(re.findall(r"([a-z_0-9]+)~\d", a)) for a in archs}
    assert len(ops) == 5**6 and all(len(o) == 6 and set(o) <= set(NB201_OPS) for o in ops)


def test_column_and_frame_are_copies(table):
    col = table.column("cifar10_val_200ep")
    assert col.index.tolist() == table.archs and col.name == "cifar10_val_200ep"
    col.iloc[0] = -1.0
    frame = table.frame
    frame.iloc[0, 1] = -1.0
    assert table.accuracy(0, "cifar10_val_200ep") != -1.0
    assert table.accuracy(0, "cifar10_test_200ep") == pytest.approx(85.863333)


@pytest.mark.parametrize(
    ("call", "exc", "needle"),
    [
        (lambda t: t.arch_at(20000), BenchmarkIndexError, "index 20000 is out of range 0..15624"),
        (lambda t: t.arch_at(-1), BenchmarkIndexError, "out of range 0..15624"),
        (lambda t: t.arch_at("3"), BenchmarkIndexError, "not an integer"),
        (lambda t: t.index_of("|conv~0|"), BenchmarkKeyError, "not a NAS-Bench-201 cell string"),
        (lambda t: t.accuracy(0, "imagenet_top1"), BenchmarkKeyError, "metric 'imagenet_top1' is not in the NAS-Bench-201 table"),
        (lambda t: t.column("nope"), BenchmarkKeyError, "cifar10_test_200ep"),
        (lambda t: t.accuracy(15625, "cifar10_test_200ep"), BenchmarkIndexError, "15625"),
    ],
)
def test_bad_lookups(table, call, exc, needle):
    with pytest.raises(exc) as err:
        call(table)
    assert needle in str(err.value) and "\n" not in str(err.value)
    assert isinstance(err.value, ValueError)


def test_keyerror_and_valueerror_both_catch():
    with pytest.raises(KeyError):
        raise BenchmarkKeyError("x")
    with pytest.raises(ValueError):
        raise BenchmarkKeyError("x")
    assert str(BenchmarkKeyError("plain message")) == "plain message"


def test_subset_and_unknown_wellformed_arch(table, tmp_path):
    sub = table.subset([0, 6111])
    assert len(sub) == 2 and sub.total == 15625
    with pytest.raises(BenchmarkKeyError, match="no results"):
        sub.arch_at(5)
    with pytest.raises(BenchmarkKeyError, match="is not in"):
        sub.index_of(table.arch_at(5))
    # parquet and csv copies of a subset load through the same function
    frame = table.frame.reset_index().iloc[:50]
    frame.to_parquet(tmp_path / "small.parquet")
    frame.to_csv(tmp_path / "small.csv", index=False)
    for name in ("small.parquet", "small.csv"):
        small = load_nb201(tmp_path / name)
        assert len(small) == 50 and small.accuracy(7, "cifar100_val_12ep") == table.accuracy(
            7, "cifar100_val_12ep"
        )
    with pytest.raises(FileNotFoundError, match="nothing.csv"):
        load_nb201(tmp_path / "nothing.csv")


def test_table_validation():
    good = {
        "index": [0, 1],
        "arch_str": [FIRST_ARCH, FIRST_ARCH.replace("avg_pool", "nor_conv")],
        "m": [1, 2],
    }
    assert NB201Table(pd.DataFrame(good)).accuracy(1, "m") == 2.0
    with pytest.raises(ValueError, match="repeats"):
        NB201Table(pd.DataFrame({**good, "index": [0, 0]}))
    with pytest.raises(ValueError, match="malformed"):
        NB201Table(pd.DataFrame({**good, "arch_str": [FIRST_ARCH, "|none~1|"]}))
    with pytest.raises(ValueError, match="arch_str"):
        NB201Table(pd.DataFrame({"index": [0], "m": [1.0]}))


def test_missing_default_csv_names_path(tmp_path, monkeypatch):
    monkeypatch.setenv("ZCNAS_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="nb201_accuracies.csv") as err:
        load_nb201()
    assert str(tmp_path) in str(err.value)


# ---------------------------------------------------------------- official layouts

EVALS = {
    "cifar10-valid": ["x-valid", "ori-test"],
    "cifar10": ["ori-test"],
    "cifar100": ["x-valid", "x-test", "ori-test"],
    "ImageNet16-120": ["x-valid", "x-test", "ori-test"],
}
DS_OFF = {"cifar10-valid": 0.0, "cifar10": 1.0, "cifar100": -30.0, "ImageNet16-120": -50.0}
EV_OFF = {"x-valid": 0.25, "ori-test": 0.5, "x-test": 0.75}
HP = {"full": (200, (777, 888)), "less": (12, (777,))}
INDICES = (0, 2, 5)


def _meta_archs() -> list[str]:
    ops = ["nor_conv_3x3", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "none", "nor_conv_3x3"]
    last = ["nor_conv_3x3", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "none", "none"]
    return [f"|{o}~0|+|none~0|{o}~1|+|skip_connect~0|none~1|{p}~2|" for o, p in zip(ops, last, strict=True)]


def _final(i: int, dataset: str, ev: str, seed: int, hp: str) -> float:
    return (
        60
        + 2 * i
        + DS_OFF[dataset]
        + EV_OFF[ev]
        + (0.3 if seed == 888 else -0.3)
        - (10 if hp == "less" else 0)
    )


def _present(i: int, hp: str, dataset: str) -> bool:
    return not (i == 5 and hp == "less" and dataset == "ImageNet16-120")


def _params(i: int, dataset: str, seed: int) -> float:
    if i == 5 and dataset == "cifar10" and seed == 777:
        return 9.99  # the benchmark's legacy inconsistency: seed 888 holds the right value
    return 0.1 + 0.01 * i + (0.005 if dataset in ("cifar100", "ImageNet16-120") else 0)


def _epoch_time(i: int, seed: int) -> float:
    return 2.0 + i + (0.5 if seed == 888 else 0.0)


def _record_parts(i: int, hp: str, dataset: str, seed: int, numpy_values: bool):
    epochs = HP[hp][0]
    as_num = np.float64 if numpy_values else float
    accs, losses, times = {}, {}, {}
    for ev in EVALS[dataset]:
        final = _final(i, dataset, ev, seed, hp)
        for e in range(epochs):
            accs[f"{ev}@{e}"] = as_num(final - 0.01 * (epochs - 1 - e))
            losses[f"{ev}@{e}"] = 1.0
            times[f"{ev}@{e}"] = 0.1
    train = {e: 50.0 + e * 0.1 for e in range(epochs)}
    train_losses = {e: 1.0 for e in range(epochs)}
    train_times = {e: _epoch_time(i, seed) for e in range(epochs)}
    return epochs, accs, losses, times, train, train_losses, train_times


def _hand_record(i, hp, dataset, seed, numpy_values):
    epochs, accs, losses, times, train, train_losses, train_times = _record_parts(
        i, hp, dataset, seed, numpy_values
    )
    return {
        "name": dataset,
        "net_state_dict": None,
        "train_acc1es": train,
        "train_acc5es": None,
        "train_losses": train_losses,
        "train_times": train_times,
        "arch_config": {"channel": 16, "num_cells": 5, "arch_str": _meta_archs()[i], "class_num": 10},
        "params": _params(i, dataset, seed),
        "flop": 10.0 + i,
        "seed": seed,
        "epochs": epochs,
        "latency": [0.01 * (i + 1)],
        "eval_names": list(EVALS[dataset]),
        "eval_acc1es": accs,
        "eval_times": times,
        "eval_losses": losses,
    }


def _hand_arch_results(i: int, hp: str, numpy_values: bool) -> dict:
    all_results, dataset_seed = {}, {}
    for dataset in EVALS:
        if not _present(i, hp, dataset):
            continue
        seeds = list(HP[hp][1])
        dataset_seed[dataset] = seeds
        for seed in seeds:
            all_results[(dataset, seed)] = _hand_record(i, hp, dataset, seed, numpy_values)
    return {
        "arch_index": i,
        "arch_str": _meta_archs()[i],
        "all_results": all_results,
        "dataset_seed": dataset_seed,
        "clear_net_done": True,
    }


def _package_arch_results(module, i: int, hp: str) -> dict:
    archres = module.ArchResults(i, _meta_archs()[i])
    for dataset in EVALS:
        if not _present(i, hp, dataset):
            continue
        for seed in HP[hp][1]:
            epochs, accs, losses, times, train, train_losses, train_times = _record_parts(
                i, hp, dataset, seed, False
            )
            config = {"channel": 16, "num_cells": 5, "arch_str": _meta_archs()[i], "class_num": 10}
            rc = module.ResultsCount(
                dataset, None, train, train_losses, _params(i, dataset, seed), 10.0 + i, config, seed, epochs,
                [0.01 * (i + 1)],
            )  # fmt: skip
            rc.update_train_info(train, None, train_losses, train_times)
            rc.update_eval(accs, losses, times)
            archres.update(dataset, seed, rc)
    return archres.state_dict()


def _expected(i: int, column: str) -> float:
    stems = {
        "cifar10_test": ("cifar10", "ori-test"),
        "cifar10_val": ("cifar10-valid", "x-valid"),
        "cifar100_test": ("cifar100", "x-test"),
        "cifar100_val": ("cifar100", "x-valid"),
        "imagenet16_test": ("ImageNet16-120", "x-test"),
        "imagenet16_val": ("ImageNet16-120", "x-valid"),
    }
    stem, suffix = column.rsplit("_", 1)
    hp = "full" if suffix == "200ep" else "less"
    dataset, ev = stems[stem]
    if not _present(i, hp, dataset):
        return math.nan
    return float(np.mean([_final(i, dataset, ev, s, hp) for s in HP[hp][1]]))


def _check_table(t: NB201Table) -> None:
    archs = _meta_archs()
    assert len(t) == 3 and t.total == 6 and t.indices == list(INDICES)
    assert [t.arch_at(i) for i in INDICES] == [archs[i] for i in INDICES]
    with pytest.raises(BenchmarkKeyError, match="index 1 has no results"):
        t.arch_at(1)
    with pytest.raises(BenchmarkIndexError, match="index 6 is out of range 0..5"):
        t.arch_at(6)
    for stem in (
        "cifar10_test",
        "cifar10_val",
        "cifar100_test",
        "cifar100_val",
        "imagenet16_test",
        "imagenet16_val",
    ):
        for suffix in ("200ep", "12ep"):
            col = f"{stem}_{suffix}"
            for i in INDICES:
                got, want = t.accuracy(i, col), _expected(i, col)
                assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, abs=1e-9), (
                    col,
                    i,
                )
    # spot values written out: seeds 777/888 average to the middle, 12 epochs use seed 777 only
    assert t.accuracy(2, "cifar10_test_200ep") == pytest.approx(65.5)
    assert t.accuracy(2, "cifar10_val_12ep") == pytest.approx(53.95)
    assert math.isnan(t.accuracy(5, "imagenet16_test_12ep"))
    assert t.accuracy(0, "cifar10_params") == pytest.approx(0.1)
    assert t.accuracy(5, "cifar10_params") == pytest.approx(0.15)  # seed 888 wins where seeds disagree
    assert t.accuracy(5, "cifar100_params") == pytest.approx(0.155)
    assert t.accuracy(2, "cifar10_flops") == pytest.approx(12.0)
    assert t.accuracy(2, "cifar100_latency") == pytest.approx(0.03)
    assert t.accuracy(2, "cifar10_train_time_200ep") == pytest.approx(200 * 4.25)
    assert t.accuracy(2, "cifar10_train_time_12ep") == pytest.approx(12 * 4.0)


def _official_dict(arch2infos: dict) -> dict:
    return {
        "meta_archs": _meta_archs(),
        "arch2infos": arch2infos,
        "evaluated_indexes": list(INDICES),
        "total_archs": 6,
    }


@pytest.mark.parametrize("numpy_values", [False, True])
def test_official_pth_hand_built(tmp_path, numpy_values):
    infos = {i: {hp: _hand_arch_results(i, hp, numpy_values) for hp in ("less", "full")} for i in INDICES}
    path = tmp_path / "NAS-Bench-201-tiny.pth"
    torch.save(_official_dict(infos), path)
    _check_table(load_nb201_official(path))


def _write_pbz2(obj, path: Path) -> None:
    with bz2.open(path, "wb") as f:
        pickle.dump(obj, f, protocol=4)


def test_nats_pbz2_file_and_archive_dir_hand_built(tmp_path):
    hp_names = {"less": "12", "full": "200"}
    infos = {i: {hp_names[hp]: _hand_arch_results(i, hp, True) for hp in ("less", "full")} for i in INDICES}
    file = tmp_path / "NATS-tss-tiny.pickle.pbz2"
    _write_pbz2(_official_dict(infos), file)
    _check_table(load_nb201_official(file))
    folder = tmp_path / "NATS-tss-tiny-simple"
    folder.mkdir()
    _write_pbz2({"meta_archs": _meta_archs()}, folder / "meta.pickle.pbz2")
    for i in INDICES:
        _write_pbz2(infos[i], folder / f"{i:06d}.pickle.pbz2")
    _check_table(load_nb201_official(folder))


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"echo pwned > {self.marker}",))


def test_official_loaders_refuse_code(tmp_path):
    marker = tmp_path / "pwned.txt"
    evil = {"meta_archs": _meta_archs(), "arch2infos": {0: {"200": _Evil(marker)}}, "evaluated_indexes": [0]}
    _write_pbz2(evil, tmp_path / "evil.pickle.pbz2")
    with pytest.raises(UnsafePickleError, match="system") as err:
        load_nb201_official(tmp_path / "evil.pickle.pbz2")
    assert "evil.pickle.pbz2" in str(err.value)
    torch.save(evil, tmp_path / "evil.pth")
    with pytest.raises(ValueError, match="weights_only"):
        load_nb201_official(tmp_path / "evil.pth")
    assert not marker.exists()


def test_official_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_nb201_official(tmp_path / "nope.pth")
    with pytest.raises(FileNotFoundError, match="meta.pickle.pbz2"):
        load_nb201_official(tmp_path)
    torch.save({"meta_archs": ["8:16:24:32:40"], "arch2infos": {}}, tmp_path / "size.pth")
    with pytest.raises(ValueError, match="topology"):
        load_nb201_official(tmp_path / "size.pth")
    torch.save({"something": 1}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="meta_archs"):
        load_nb201_official(tmp_path / "other.pth")
    with pytest.raises(ValueError, match="load_nb201_official"):
        load_nb201(tmp_path / "other.pth")


def test_official_pth_with_nas_bench_201_package(tmp_path):
    api_utils = pytest.importorskip("nas_201_api.api_utils")
    api_201 = pytest.importorskip("nas_201_api.api_201")
    infos = {i: {hp: _package_arch_results(api_utils, i, hp) for hp in ("less", "full")} for i in INDICES}
    path = tmp_path / "NAS-Bench-201-pkg.pth"
    torch.save(_official_dict(infos), path)
    ours = load_nb201_official(path)
    _check_table(ours)
    api = api_201.NASBench201API(_official_dict(infos), verbose=False)
    for i in INDICES:
        for hp, suffix in (("200", "200ep"), ("12", "12ep")):
            info = api.get_more_info(i, "cifar10", hp=hp, is_random=False)
            assert ours.accuracy(i, f"cifar10_test_{suffix}") == pytest.approx(info["test-accuracy"])
            info = api.get_more_info(i, "cifar10-valid", hp=hp, is_random=False)
            assert ours.accuracy(i, f"cifar10_val_{suffix}") == pytest.approx(info["valid-accuracy"])
            info = api.get_more_info(i, "cifar100", hp=hp, is_random=False)
            assert ours.accuracy(i, f"cifar100_test_{suffix}") == pytest.approx(info["test-accuracy"])
            assert ours.accuracy(i, f"cifar100_val_{suffix}") == pytest.approx(info["valid-accuracy"])
            assert ours.accuracy(i, f"cifar100_train_time_{suffix}") == pytest.approx(info["train-all-time"])
        cost = api.get_cost_info(i, "cifar100", hp="200")
        assert ours.accuracy(i, "cifar100_flops") == pytest.approx(cost["flops"])
        assert ours.accuracy(i, "cifar100_params") == pytest.approx(cost["params"])
        assert ours.accuracy(i, "cifar100_latency") == pytest.approx(cost["latency"])


def test_nats_pbz2_with_nats_bench_package(tmp_path):
    api_utils = pytest.importorskip("nats_bench.api_utils")
    api_topology = pytest.importorskip("nats_bench.api_topology")
    hp_names = {"less": "12", "full": "200"}
    infos = {i: {hp_names[hp]: _package_arch_results(api_utils, i, hp) for hp in HP} for i in INDICES}
    base = tmp_path / "NATS-tss-pkg.pickle"
    api_utils.pickle_save(_official_dict(infos), str(base))  # writes NATS-tss-pkg.pickle.pbz2
    ours = load_nb201_official(tmp_path / "NATS-tss-pkg.pickle.pbz2")
    _check_table(ours)
    api = api_topology.NATStopology(_official_dict(infos), verbose=False)
    for i in INDICES:
        for hp, suffix in (("200", "200ep"), ("12", "12ep")):
            for dataset, stem in (("cifar10", "cifar10_test"), ("cifar100", "cifar100_test")):
                info = api.get_more_info(i, dataset, hp=hp, is_random=False)
                assert ours.accuracy(i, f"{stem}_{suffix}") == pytest.approx(info["test-accuracy"])
            info = api.get_more_info(i, "cifar10-valid", hp=hp, is_random=False)
            assert ours.accuracy(i, f"cifar10_val_{suffix}") == pytest.approx(info["valid-accuracy"])
        cost = api.get_cost_info(i, "cifar10", hp="200")
        assert ours.accuracy(i, "cifar10_params") == pytest.approx(cost["params"])
