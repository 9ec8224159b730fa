"""Size baselines: l2_norm, params and flops. They need no labels and no gradients.

``flops`` counts the forward FLOPs of one sample with ``torch.utils.flop_counter.FlopCounterMode``, which counts
2 per multiply-accumulate in convolutions and matrix products (BatchNorm, pooling and activations are not
counted); MACs = flops / 2.
"""

from __future__ import annotations

import copy

import torch
from torch.utils.flop_counter import FlopCounterMode

from zcnas.proxies.passes import ProxyContext, run_forward, scored_layers
from zcnas.proxies.registry import register_proxy


@register_proxy(
    "l2_norm",
    needs_labels=False,
    input_kind="none",
    data_free=True,
    paper="NASLib (not registered in the reference)",
    description="sum over layers of the Frobenius norm of W",
)
def l2_norm(ctx: ProxyContext) -> float:
    """Σ_l ‖W_l‖_F over the scored layers of the caller's model (read only)."""
    with torch.no_grad():
        return float(sum(float(layer.weight.norm()) for layer in scored_layers(ctx.model, ctx.layer_types)))


def count_parameters(model: torch.nn.Module) -> int:
    """Number of parameter elements (every parameter: weights, biases, BatchNorm affine)."""
    return sum(p.numel() for p in model.parameters())


@register_proxy(
    "params",
    needs_labels=False,
    input_kind="none",
    size_only=True,
    paper="baseline",
    description="number of parameters (all of them)",
)
def params(ctx: ProxyContext) -> float:
    """The parameter count as a float."""
    return float(count_parameters(ctx.model))


def count_flops(model: torch.nn.Module, sample_shape: tuple[int, ...], dtype: torch.dtype = torch.float32,
                device: torch.device | str = "cpu") -> int:
    """Forward FLOPs of one sample of ``sample_shape`` (2 per multiply-accumulate), on an eval-mode copy.

    Example:
        >>> import torch
        >>> count_flops(torch.nn.Linear(4, 3), (4,))
        24
    """
    net = copy.deepcopy(model).eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        run_forward(net, torch.zeros((1, *sample_shape), dtype=dtype, device=device))
    return int(counter.get_total_flops())


@register_proxy(
    "flops",
    needs_labels=False,
    input_kind="ones",
    size_only=True,
    paper="baseline",
    description="forward FLOPs of one sample (FlopCounterMode: 2 per multiply-accumulate)",
)
def flops(ctx: ProxyContext) -> float:
    """FLOPs of one sample with the minibatch's per-sample shape."""
    return float(count_flops(ctx.model, tuple(ctx.inputs.shape[1:]), ctx.inputs.dtype, ctx.inputs.device))
