"""Cost accounting in minibatch-equivalents, the paper's unit for Figure 2.

One minibatch-equivalent is one forward and backward pass of the full-size network (the space's default
options at its own input resolution) on a batch of 64 samples: the cost of a zero-cost proxy. Training at
reduced settings for an epoch that sees ``n`` samples costs

    3 * F_reduced * n / (3 * F_full * 64) = F_reduced * n / (F_full * 64)

minibatch-equivalents, where ``F`` is the forward FLOPs of one sample (``zcnas.proxies.size.count_flops``:
convolutions and matrix products, 2 per multiply-accumulate; BatchNorm, pooling and activations are not
counted) and a backward pass is counted as twice a forward, so forward+backward is ``3 * F``. The factor
cancels; it is stated so that the absolute FLOPs in the tables mean something. Full-size training therefore
costs exactly ``n / 64`` per epoch.

The paper's own x axis is not this one: its EcoNAS points (980 at epoch 20 for r8c4, 890 at epoch 15 for
r16c8) equal ``epochs * 196 / d`` with the notebook's *runtime* divisors ``d`` = 4 and 3.3 (196 batches of 256
per CIFAR-10 epoch), so they count GPU time, not FLOPs. See ``docs/results/reduced_training.md``.

Example:
    >>> minibatch_equivalents(flops_per_sample=10, samples=640, full_flops_per_sample=100)
    1.0
"""

from __future__ import annotations

from typing import Any

import torch

from zcnas.proxies.size import count_flops
from zcnas.spaces.base import SearchSpace

__all__ = ["REFERENCE_BATCH", "TRAIN_PASS_FACTOR", "cell_flops", "forward_flops", "minibatch_equivalents", "train_flops"]

#: The batch of the unit: one forward and backward of the full-size network on this many samples.
REFERENCE_BATCH = 64
#: Forward + backward counted as this many forwards (backward = 2 forwards).
TRAIN_PASS_FACTOR = 3


def forward_flops(model: torch.nn.Module, resolution: int, channels: int = 3) -> int:
    """Forward FLOPs of one ``channels x resolution x resolution`` sample through ``model``.

    Example:
        >>> from torch import nn
        >>> forward_flops(nn.Sequential(nn.Conv2d(3, 2, 1, bias=False)), 4)  # 2 * 3*2 MACs * 16 pixels
        192
    """
    return count_flops(model, (channels, resolution, resolution))


def train_flops(flops_per_sample: float, samples: int) -> float:
    """FLOPs of training on ``samples`` samples: forward + backward = ``TRAIN_PASS_FACTOR`` forwards each."""
    return float(TRAIN_PASS_FACTOR) * float(flops_per_sample) * int(samples)


def minibatch_equivalents(flops_per_sample: float, samples: int, full_flops_per_sample: float,
                          batch: int = REFERENCE_BATCH) -> float:
    """Training cost of ``samples`` samples relative to one forward+backward of the full network at ``batch``.

    Example:
        >>> minibatch_equivalents(1.0, 5000, 1.0)   # a full-size epoch of 5,000 images
        78.125
    """
    if full_flops_per_sample <= 0:
        raise ValueError(f"full_flops_per_sample={full_flops_per_sample!r} is not allowed; use a number > 0")
    return train_flops(flops_per_sample, samples) / train_flops(full_flops_per_sample, batch)


def cell_flops(space: SearchSpace, cell: Any, num_classes: int, options: dict[str, Any],
               resolution: int) -> tuple[int, int]:
    """``(reduced, full)`` forward FLOPs per sample of a cell: with ``options`` at ``resolution``, and at the
    space's defaults and input resolution."""
    reduced = space.build_model(cell, num_classes, seed=0, **options)
    full = space.build_model(cell, num_classes, seed=0)
    channels, full_resolution = space.input_shape[0], space.input_shape[-1]
    return forward_flops(reduced, resolution, channels), forward_flops(full, full_resolution, channels)
