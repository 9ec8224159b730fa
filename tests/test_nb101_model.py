"""The NAS-Bench-101 network: the channel rule, hand-counted parameters, the cell's wiring, the init, the data
files' parameter counts and the independent nasbench-pytorch implementation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import shared_data_dir
from torch import nn

from zcnas.spaces import nb101
from zcnas.spaces.nb101_model import Cell, NB101Network, vertex_channels


def raw(text: str) -> nb101.NB101Cell:
    return nb101.from_string(text, canonicalize=False)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# three vertices feed the output (43 + 43 + 42 of 128 channels) and vertex 1 also feeds vertex 3 (truncated)
TRUNCATING = raw("333/1100-011-11-1")


def test_vertex_channels_by_hand():
    assert vertex_channels(raw("331/1110-001-01-1"), 128, 128) == [128, 43, 43, 42, 128]
    assert vertex_channels(TRUNCATING, 128, 128) == [128, 43, 43, 42, 128]
    assert vertex_channels(raw("33/100-10-1"), 64, 128) == [64, 128, 128, 128]  # vertex 1 takes its successor's
    assert vertex_channels(raw("333/1000-100-01-1"), 128, 256) == [128, 128, 128, 128, 256]
    assert vertex_channels(raw("/1"), 128, 256) == [128, 256]
    assert vertex_channels(raw("331/1110-001-01-1"), 128, 256) == [128, 86, 85, 85, 256]


def test_parameters_by_hand():
    cell = raw("3/11-1")  # input -> conv3x3 -> output and input -> output
    # stem 3*4*9 + BN 2*4; projection 4*4 + 8; conv 4*4*9 + 8; output projection 4*4 + 8; linear 4*10 + 10
    assert n_params(NB101Network(cell, 10, stem_channels=4, num_stacks=1, cells_per_stack=1)) == 366
    # a second stack at 8 channels: projections 4*8 + 16 (twice), conv 8*8*9 + 16, linear 8*10 + 10
    assert n_params(NB101Network(cell, 10, stem_channels=4, num_stacks=2, cells_per_stack=1)) == 1094
    # input -> output only: the cell is its 1x1 projection
    assert n_params(NB101Network(raw("/1"), 10, stem_channels=4, num_stacks=1, cells_per_stack=1)) == 116 + 24 + 50


def test_cell_wiring_sums_truncates_and_concatenates():
    torch.manual_seed(0)
    cell = Cell(TRUNCATING, 6, 10)  # vertex channels 6 -> [4, 3, 3] -> 10
    assert cell.channels == [6, 4, 3, 3, 10]
    x = torch.randn(2, 6, 5, 5)
    p, op = cell.projections, cell.ops
    v1 = op["1"](p["1"](x))
    v2 = op["2"](p["2"](x))
    v3 = op["3"](v1[:, :3] + v2)  # vertex 1 truncated to vertex 3's channels, summed with vertex 2
    expected = torch.cat([v1, v2, v3], dim=1)
    assert torch.allclose(cell(x), expected)
    skip = Cell(raw("3/11-1"), 6, 8)
    assert torch.allclose(skip(x), skip.ops["1"](skip.projections["1"](x)) + skip.projections["2"](x))


def test_network_shapes_init_and_seed():
    net = nb101.build_model("3/11-1", num_classes=7, seed=3)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 7)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    widest = max(convs, key=lambda m: m.weight.numel())
    k2c = widest.kernel_size[0] * widest.kernel_size[1] * widest.out_channels
    assert widest.weight.std().item() == pytest.approx((2.0 / k2c) ** 0.5, rel=0.02)
    assert abs(widest.weight.mean().item()) < 0.01 * widest.weight.std().item() * 10
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(torch.all(m.weight == 1) and torch.all(m.bias == 0) for m in bns)
    assert all(m.momentum == 0.1 and m.eps == 1e-5 for m in bns)
    assert all(m.bias is None for m in convs)
    assert net.classifier.weight.std().item() == pytest.approx(0.01, rel=0.1) and torch.all(net.classifier.bias == 0)
    state = torch.random.get_rng_state()
    again = nb101.build_model("3/11-1", num_classes=7, seed=3)
    assert torch.equal(state, torch.random.get_rng_state())
    assert all(torch.equal(a, b) for a, b in zip(net.parameters(), again.parameters()))
    other = nb101.build_model("3/11-1", num_classes=7, seed=4)
    assert not torch.equal(net.classifier.weight, other.classifier.weight)
    with pytest.raises(ValueError, match=r"inputs of shape \(N, 3, H, W\); got \(2, 1, 32, 32\)"):
        net(torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match="stem_channels=0 is not allowed"):
        nb101.build_model("3/11-1", stem_channels=0)


def data_rows(name: str) -> list[dict]:
    path = shared_data_dir() / "nb101" / name
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    return json.loads(path.read_text())


def params_in_given_order(row: dict) -> int:
    return n_params(nb101.build_model(row, canonicalize=False))


def test_parameters_match_the_30_cell_file():
    for row in data_rows("nb101_sample_params.json"):
        assert params_in_given_order(row) == round(row["params_millions"] * 1e6)


def test_isomorphic_orders_split_channels_differently_as_the_files_show():
    # Rows of one cell (one hash) in two vertex orders can have different counts in the files: the order
    # decides which vertex gets a remainder channel. Ours agree with each row in its own order and build one
    # network (the canonical member's) for all of them.
    by_hash: dict[str, list[dict]] = {}
    for row in data_rows("nb101_sample_params.json") + data_rows("nb101_400_cells.json"):
        by_hash.setdefault(nb101.graph_hash(row), []).append(row)
    pairs = [(g[0], r) for g in by_hash.values() for r in g[1:] if r["params_millions"] != g[0]["params_millions"]]
    assert pairs
    for a, b in pairs:
        assert params_in_given_order(a) == round(a["params_millions"] * 1e6)
        assert params_in_given_order(b) == round(b["params_millions"] * 1e6)
        assert n_params(nb101.build_model(a)) == n_params(nb101.build_model(b))


@pytest.mark.slow
def test_parameters_match_every_row_of_the_400_cell_file():
    rows = data_rows("nb101_400_cells.json")
    diffs = [params_in_given_order(row) - round(row["params_millions"] * 1e6) for row in rows]
    assert diffs == [0] * len(rows)


# --- the independent implementation ---------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(4))
def test_same_network_as_nasbench_pytorch(seed):
    model = pytest.importorskip("nasbench_pytorch.model")
    cell = nb101.sample(1, np.random.default_rng(seed))[0]
    ours = nb101.build_model(cell, num_classes=10, stem_channels=16, num_stacks=2, cells_per_stack=2, seed=0)
    theirs = model.Network((np.array(cell.matrix), list(cell.ops)), num_labels=10, stem_out_channels=16,
                           num_stacks=2, num_modules_per_stack=2)
    placeholders = sum(p.numel() for m in theirs.modules() if type(m).__name__ == "Placeholder" for p in m.parameters())
    assert n_params(ours) == n_params(theirs) - placeholders
    kinds = (nn.Conv2d, nn.BatchNorm2d, nn.Linear)
    mine = [m for m in ours.modules() if isinstance(m, kinds)]
    other = [m for m in theirs.modules() if isinstance(m, kinds)]
    assert [type(m) for m in mine] == [type(m) for m in other]
    with torch.no_grad():
        for a, b in zip(mine, other):
            b.weight.copy_(a.weight)
            if a.bias is not None:
                b.bias.copy_(a.bias)
    x = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(seed))
    ours.train(), theirs.train()
    assert torch.allclose(ours(x), theirs(x), atol=1e-5)
