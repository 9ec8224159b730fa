"""zico: Σ_l log Σ_θ∈l mean_b|∂L/∂θ| / std_b(∂L/∂θ) over minibatches b (Li et al., ZiCo, ICLR 2023).

What we read: the paper (Eq. 7) and the authors' code (SLDGroup/ZiCo ``ZeroShotProxy/compute_zico.py``; the
port in HamsterMimi/MeCo ``foresight/pruners/measures/zico.py`` splits one batch in two).
- For every ``nn.Conv2d``/``nn.Linear`` weight, the cross-entropy gradient on each of several minibatches;
  per weight element the mean of |g| and the population standard deviation (``np.std``) over minibatches;
  per layer log Σ (mean / std) over the elements whose std is non-zero; a layer whose sum is 0 is skipped;
  the score sums the layers. Train mode (batch-statistics BatchNorm), the model's own init.
- How the minibatches are given: ``compute_proxies`` takes one batch, so ZiCo splits it into ``splits``
  consecutive equal parts (default 2, as the port: a batch of 64 gives two minibatches of 32), each with its
  own forward/backward (so its own BatchNorm statistics). Pass a batch of 2·B for two minibatches of B.
  Any trailing samples that do not fill a part are dropped.
- The code's quirk: it never zeroes the gradients between minibatches, so its second "minibatch gradient" is
  the accumulated g₁ + g₂ (on GPU; on CPU ``.grad.numpy()`` aliases the buffer, so both entries become g₁ + g₂
  and every std is 0). The default follows the paper (independent per-minibatch gradients, so the score does
  not depend on the order of the minibatches); ``accumulate=True`` reproduces the GPU code's sums.
- Where no layer has a non-zero std (no gradient reaches any weight, e.g. a cell whose output is all
  ``none``), the code returns 0; we return NaN with a reason.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from zcnas.proxies.passes import NotFinite, ProxyContext, run_forward, scored_layers
from zcnas.proxies.registry import register_proxy


def zico_from_gradients(per_layer: list[np.ndarray]) -> float:
    """ZiCo from per-layer arrays of shape (minibatches, weight elements); NotFinite when no layer counts.

    Example:
        >>> g = [np.array([[1.0, 2.0], [3.0, 2.0]])]  # element 0: mean|g| 2, std 1; element 1: std 0, skipped
        >>> zico_from_gradients(g)
        0.6931471805599453
    """
    total, counted = 0.0, 0
    for grads in per_layer:
        std = grads.std(axis=0)
        nonzero = np.nonzero(std)[0]
        ratio_sum = float(np.sum(np.abs(grads).mean(axis=0)[nonzero] / std[nonzero]))
        if ratio_sum != 0:
            total += math.log(ratio_sum)
            counted += 1
    if counted == 0:
        raise NotFinite("zico: no layer's gradient varies across the minibatches (no gradient reaches any "
                        "weight, e.g. a cell whose output is all 'none')")
    return total


def _check(options: dict) -> None:
    if options["splits"] < 2:
        raise ValueError(f"zico option splits={options['splits']!r} is not allowed; use an integer >= 2")


@register_proxy(
    "zico",
    needs_labels=True,
    paper="Li et al., ZiCo: Zero-shot NAS via Inverse Coefficient of Variation on Gradients, ICLR 2023",
    description="sum over layers of log sum(mean|g| / std(g)) of weight gradients across minibatches "
                "(the batch split in parts)",
    defaults={"splits": 2, "accumulate": False},
    check=_check,
)
def zico(ctx: ProxyContext, splits: int = 2, accumulate: bool = False) -> float:
    """ZiCo over ``splits`` consecutive parts of the batch; ``accumulate`` reproduces the code's summed grads."""
    _check({"splits": splits})
    size = ctx.inputs.shape[0] // splits
    if size < 1:
        raise NotFinite(f"zico: a batch of {ctx.inputs.shape[0]} cannot be split into {splits} minibatches")
    if ctx.targets is None:
        raise ValueError("zico needs targets (labels); pass targets=... to compute_proxies")
    net = ctx.copy_model()
    layers = scored_layers(net, ctx.layer_types)
    weights = [layer.weight for layer in layers]
    per_layer: list[list[np.ndarray]] = [[] for _ in weights]
    running: list[torch.Tensor | None] = [None] * len(weights)
    for part in range(splits):
        rows = slice(part * size, (part + 1) * size)
        loss = ctx.loss_fn(run_forward(net, ctx.inputs[rows]), ctx.targets[rows])
        grads = torch.autograd.grad(loss, weights, allow_unused=True)
        for i, (weight, grad) in enumerate(zip(weights, grads)):
            g = torch.zeros_like(weight) if grad is None else grad.detach()
            if accumulate:
                g = g if running[i] is None else running[i] + g
                running[i] = g
            per_layer[i].append(g.reshape(-1).cpu().double().numpy())
    return zico_from_gradients([np.stack(g) for g in per_layer])
