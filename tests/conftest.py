"""Shared fixtures: small models and batches, and the reference-values case from the shared data folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn


def shared_data_dir() -> Path:
    env = os.environ.get("ZCNAS_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def small_cnn() -> nn.Sequential:
    """The reference-values model (../shared/data/reference-values/README.md)."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=True),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 12, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(12),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(12, 10),
    )


@pytest.fixture
def reference_case():
    folder = shared_data_dir() / "reference-values"
    if not folder.exists():
        pytest.skip(f"shared data not found at {folder}")
    case = np.load(folder / "small_cnn_case.npz", allow_pickle=False)
    expected = json.loads((folder / "small_cnn_expected.json").read_text())
    net = small_cnn()
    state = {k[len("state."):]: torch.from_numpy(case[k]) for k in case.files if k.startswith("state.")}
    net.load_state_dict(state)
    return net, torch.from_numpy(case["inputs"]), torch.from_numpy(case["targets"]), expected


@pytest.fixture
def tiny_batch():
    g = torch.Generator().manual_seed(1)
    return torch.randn(6, 3, 8, 8, generator=g), torch.randint(0, 10, (6,), generator=g)
