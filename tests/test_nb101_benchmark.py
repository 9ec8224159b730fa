"""The NAS-Bench-101 400-row table: rows grouped into cells, averages, lookups, directions and the registry."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest
import torch
from conftest import shared_data_dir
from torch import nn

from zcnas.benchmarks import get_benchmark, list_benchmarks
from zcnas.benchmarks.nb101 import load_nb101
from zcnas.pipeline import ground_truth
from zcnas.proxies.size import count_flops
from zcnas.spaces import nb101


@pytest.fixture(scope="module")
def rows():
    path = shared_data_dir() / "nb101" / "nb101_400_cells.json"
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    return json.loads(path.read_text())


def test_rows_become_cells_by_hash(rows):
    table = load_nb101()
    groups = defaultdict(list)
    for row in rows:
        groups[nb101.graph_hash(row)].append(row)
    assert len(table) == len(groups) == 237
    assert table.row_counts().sum() == 400 and table.row_counts().max() == 46
    assert table.row_counts()["/1"] == 46  # input -> output: 46 raw 7x7 specs prune to it
    for members in groups.values():
        cell = table.by_hash(nb101.graph_hash(members[0]))
        assert table.accuracy(cell, "cifar10_val_108ep") == pytest.approx(np.mean([m["val_accuracy"] for m in members]))
        assert table.accuracy(cell, "params") == round(members[0]["params_millions"] * 1e6)
        assert table.accuracy(cell, "flops") == pytest.approx(members[0]["flops_millions"] * 1e6)
        third = table.third_party().loc[cell]
        assert third["synflow"] == pytest.approx(np.mean([m["third_party_proxies"]["synflow"] for m in members]))
    assert list(table.third_party().columns) == ["grad_norm", "snip", "grasp", "fisher", "synflow", "jacov", "plain",
                                                 "l2_norm", "epe_nas"]


def test_lookups_directions_and_splits(rows):
    table = get_benchmark("nb101")
    assert list_benchmarks(space="nb101") == ["nb101"] and ground_truth("nb101").cells == table.cells
    first = rows[0]
    assert first in table and nb101.to_string(first) in table
    assert table.accuracy(first, "cifar10_val_108ep") == table.accuracy(nb101.to_string(first), "cifar10_val_108ep")
    notebook_cell = "31m33/111100-00001-0001-001-10-1"
    assert notebook_cell not in table and "not a cell" not in table
    with pytest.raises(KeyError, match="not in the nb101 benchmark table"):
        table.accuracy(notebook_cell, "cifar10_val_108ep")
    with pytest.raises(KeyError, match="not a NAS-Bench-101 cell string"):
        table.accuracy("x/1", "cifar10_val_108ep")
    assert table.split_metric("cifar10", "val") == "cifar10_val_108ep"
    with pytest.raises(ValueError, match="no test metric for dataset 'cifar10'"):
        table.split_metric("cifar10", "test")
    assert table.direction("params") == table.direction("flops") == "min"
    assert table.direction("cifar10_val_108ep") == "max"
    with pytest.raises(ValueError, match="is not a .json, .tfrecord or .parquet"):
        load_nb101(shared_data_dir() / "nb101" / ".." / "README.md")


def test_file_flops_by_their_rule(rows):
    # The file's flops (NASLib, tensorwatch at batch 1) are the conv and linear multiply-accumulates (half of
    # FlopCounterMode's count) plus 3 per BatchNorm output element and the max-pool work (9 per 3x3 output,
    # 1 per 2x2 input element); checked here exactly on the networks in the file's vertex order.
    for row in (rows[0], rows[2]):  # row 2 keeps a max-pool vertex
        net = nb101.build_model(row, canonicalize=False).eval()
        extra = []

        def hook(module, inputs, output, extra=extra):
            if isinstance(module, nn.BatchNorm2d):
                extra.append(3 * output.numel())
            elif isinstance(module, nn.MaxPool2d):
                extra.append(inputs[0].numel() if module.kernel_size == 2 else 9 * output.numel())

        handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.BatchNorm2d, nn.MaxPool2d))]
        with torch.no_grad():
            net(torch.zeros(1, 3, 32, 32))
        for h in handles:
            h.remove()
        macs = count_flops(net, (3, 32, 32)) // 2
        assert macs + sum(extra) == round(row["flops_millions"] * 1e6)
