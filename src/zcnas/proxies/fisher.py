"""fisher: per-output-channel Fisher information of the pre-BatchNorm activations, the reference's way.

For each Conv2d/Linear output z (the pre-BatchNorm activation) and its loss gradient: s_{n,c} = Σ_{h,w} z·∂L/∂z,
F_c = ½·mean_n(s_{n,c}²). The reference spreads |F_c| over every weight of output channel c and sums, so each
channel counts ``fan_in`` times (C_in/groups·kh·kw, or in_features). That weighting is the default
(``fan_in_weighting=True``); ``False`` gives the plain Σ_c F_c.
"""

from __future__ import annotations

from zcnas.proxies.passes import ProxyContext, fan_in
from zcnas.proxies.registry import register_proxy


@register_proxy(
    "fisher",
    tags=("paper",),
    needs_labels=True,
    passes=("fisher",),
    paper="Theis et al. 2018 / Turner et al. 2020 (as used by Abdelfattah et al., ICLR 2021)",
    description="sum over layers of fan_in · Σ_c |½ mean_n (Σ_hw z·dL/dz)²| (the reference's channel broadcast)",
    defaults={"fan_in_weighting": True},
)
def fisher(ctx: ProxyContext, fan_in_weighting: bool = True) -> float:
    """Σ_l fan_in(l) · Σ_c |F_{l,c}|; layers the forward never reaches contribute zero."""
    data = ctx.data_pass()
    total = 0.0
    for weight, channels in zip(data.weights, data.fisher_channels):
        if channels is not None:
            weight_factor = fan_in(weight) if fan_in_weighting else 1
            total += weight_factor * float(channels.abs().sum())
    return total
