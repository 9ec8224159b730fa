"""Every registered proxy on small NB-101 networks, and scoring NB-101 cells (isomorphic cells are one cell)."""

from __future__ import annotations

import math

import pytest
import torch

import zcnas
from zcnas.scoring.runner import Scorer, ScoreSettings
from zcnas.spaces import get_space, nb101

SMALL = {"stem_channels": 8, "num_stacks": 2, "cells_per_stack": 1}
CELLS = ["31m33/111100-00001-0001-001-10-1", "/1", "m/11-1", "313/1100-011-11-1"]


@pytest.mark.parametrize("name", zcnas.list_proxies())
def test_every_registered_proxy_on_nb101_networks(name):
    space = get_space("nb101")
    spec = zcnas.get_proxy(name)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(6, 3, 16, 16, generator=g), torch.randint(0, 10, (6,), generator=g)
    for cell in CELLS:
        net = space.build_model(cell, 10, seed=1, **SMALL)
        before = {k: v.clone() for k, v in net.state_dict().items()}
        result = zcnas.compute_proxy_results(net, x, y if spec.needs_labels else None, [name], seed=0)[name]
        again = zcnas.compute_proxy_results(net, x, y if spec.needs_labels else None, [name], seed=0)[name]
        assert result.status == "ok" and math.isfinite(result.value), (cell, result.reason)
        assert result.value == again.value
        assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_scoring_isomorphic_cells_gives_one_row_and_shared_data_free_scores():
    settings = ScoreSettings(proxies=("params", "flops", "synflow", "grad_norm"), space="nb101",
                             data_source="synthetic", batch_size=4, space_options=SMALL)
    a = nb101.from_matrix([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]],
                          ["input", "maxpool3x3", "conv3x3-bn-relu", "output"])
    b = nb101.from_matrix([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]],
                          ["input", "conv3x3-bn-relu", "maxpool3x3", "output"])
    c = "3/11-1"
    with Scorer("nb101", settings) as scorer:
        table = scorer.score([a, b, c])
    assert list(table.index) == ["3m/110-01-1", "3/11-1"]
    assert table.notna().all().all()
    net = nb101.build_model(a, 10, **SMALL)
    assert table.loc["3m/110-01-1", "params"] == sum(p.numel() for p in net.parameters())
    assert table.loc["3m/110-01-1", "synflow"] != table.loc["3/11-1", "synflow"]
