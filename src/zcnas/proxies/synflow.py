"""synflow: Σ |W ⊙ ∂R/∂W| with R the summed output of the |weights| network on an all-ones input.

Reference behaviour: a copy with BatchNorm removed (``bn_removal="reference"`` keeps the BatchNorm a model
flags as kept, like NAS-Bench-201's reduction blocks, which the reference's rebuild cannot remove), every
entry of ``state_dict()`` replaced by its absolute value, the copy cast to float64, input all ones of shape
[1, *sample_shape], train mode. ``synflow_bn`` keeps every BatchNorm (the reference's second name for it).
"""

from __future__ import annotations

import torch

from zcnas.proxies.passes import NotFinite, ProxyContext, remove_batchnorm, run_forward, scored_layers
from zcnas.proxies.registry import register_proxy

_PAPER = "Tanaka et al., SynFlow, NeurIPS 2020 (as used by Abdelfattah et al., ICLR 2021)"


def _synflow(ctx: ProxyContext, bn_removal: str | None, dtype: str) -> float:
    if dtype not in ("float64", "float32"):
        raise ValueError(f"synflow dtype={dtype!r} is not allowed; use 'float64' (reference) or 'float32'")
    net = ctx.copy_model()
    if bn_removal is not None:
        remove_batchnorm(net, bn_removal)
    with torch.no_grad():
        for tensor in net.state_dict().values():
            tensor.abs_()
    torch_dtype = torch.float64 if dtype == "float64" else torch.float32
    net = net.to(torch_dtype)
    layers = scored_layers(net, ctx.layer_types)
    ones = torch.ones((1, *ctx.inputs.shape[1:]), dtype=torch_dtype, device=ctx.inputs.device)
    output = run_forward(net, ones)
    weights = [layer.weight for layer in layers]
    grads = torch.autograd.grad(output.sum(), weights, allow_unused=True)
    total = 0.0
    for weight, grad in zip(weights, grads):
        if grad is not None:
            total += float(torch.abs(weight.detach() * grad).sum())
    if total != total or total in (float("inf"), float("-inf")):
        raise NotFinite(f"synflow is {total} in {dtype} (the summed output overflowed)")
    return total


@register_proxy(
    "synflow",
    tags=("paper",),
    needs_labels=False,
    bn=False,
    input_kind="ones",
    dtype="float64",
    data_free=True,
    paper=_PAPER,
    description="sum of |W ⊙ dR/dW|, R = sum of outputs of the |W| network (BN removed, float64) on all-ones",
    defaults={"bn_removal": "reference", "dtype": "float64"},
    choices={"bn_removal": ("reference", "all"), "dtype": ("float64", "float32")},
)
def synflow(ctx: ProxyContext, bn_removal: str = "reference", dtype: str = "float64") -> float:
    """Synaptic flow; ``bn_removal="all"`` also removes the BatchNorm the reference cannot remove."""
    return _synflow(ctx, bn_removal, dtype)


@register_proxy(
    "synflow_bn",
    needs_labels=False,
    input_kind="ones",
    dtype="float64",
    data_free=True,
    paper=_PAPER,
    description="synflow with every BatchNorm kept (train mode, batch of one)",
    defaults={"dtype": "float64"},
    choices={"dtype": ("float64", "float32")},
)
def synflow_bn(ctx: ProxyContext, dtype: str = "float64") -> float:
    """Synaptic flow with BatchNorm kept, as the reference's ``synflow_bn``."""
    return _synflow(ctx, None, dtype)
