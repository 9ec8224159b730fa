"""grad_norm, snip and plain: per-layer functions of the loss gradient dL/dW from the shared data pass.

Reference behaviour (SamsungLabs/zero-cost-nas): BatchNorm kept in train mode, cross-entropy on one minibatch,
Conv2d/Linear weights only; a layer the forward never reaches contributes zero.
"""

from __future__ import annotations

import torch

from zcnas.proxies.passes import ProxyContext
from zcnas.proxies.registry import register_proxy

_PAPER = "Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021"


def _layer_sum(ctx: ProxyContext, per_layer) -> float:
    data = ctx.data_pass()
    total = 0.0
    for weight, grad in zip(data.weights, data.weight_grads):
        if grad is not None:
            total += float(per_layer(weight.detach(), grad))
    return total


@register_proxy(
    "grad_norm",
    tags=("paper",),
    needs_labels=True,
    passes=("loss_grad",),
    paper=_PAPER,
    description="sum over layers of the Frobenius norm of dL/dW (a sum of per-layer norms, not the global norm)",
)
def grad_norm(ctx: ProxyContext) -> float:
    """Σ_l ‖∂L/∂W_l‖_F."""
    return _layer_sum(ctx, lambda w, g: g.norm())


@register_proxy(
    "snip",
    tags=("paper",),
    needs_labels=True,
    passes=("loss_grad",),
    paper="Lee et al., SNIP, ICLR 2019 (as used by " + _PAPER + ")",
    description="sum of |W ⊙ dL/dW| (the reference's mask gradient, computed directly)",
)
def snip(ctx: ProxyContext) -> float:
    """Σ |W ⊙ ∂L/∂W| — equal to the reference's gradient w.r.t. a ones mask on the weights."""
    return _layer_sum(ctx, lambda w, g: torch.abs(w * g).sum())


@register_proxy(
    "plain",
    needs_labels=True,
    passes=("loss_grad",),
    paper=_PAPER,
    description="signed sum of W ⊙ dL/dW",
)
def plain(ctx: ProxyContext) -> float:
    """Σ W ⊙ ∂L/∂W, signed."""
    return _layer_sum(ctx, lambda w, g: (w * g).sum())
