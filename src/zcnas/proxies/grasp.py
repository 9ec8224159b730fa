"""grasp: −W ⊙ (H g), the reference's GraSP variant (T=1, one minibatch, sign flipped).

The reference computes g = ∂L/∂W, then the gradient of z = Σ ⟨stop_grad(g), ∂L/∂W⟩ (built with create_graph),
which is the Hessian-gradient product H·g, and scores −W ⊙ H·g summed with signs. Its comment says the sign was
flipped because accuracy came out negatively correlated; we keep that sign. The original GraSP uses T=200 and a
class-balanced batch: ``temperature`` is a named option (any value but 1 runs its own pass).
"""

from __future__ import annotations

from zcnas.proxies.passes import ProxyContext
from zcnas.proxies.registry import register_proxy


def _check_temperature(temperature: float) -> None:
    if not temperature > 0:
        raise ValueError(f"grasp option temperature={temperature!r} is not allowed; use a positive number (reference: 1)")


@register_proxy(
    "grasp",
    tags=("paper",),
    needs_labels=True,
    passes=("loss_grad", "hessian_grad"),
    paper="Wang et al., GraSP, ICLR 2020 (as used by Abdelfattah et al., ICLR 2021)",
    description="signed sum of -W ⊙ Hg, with g the loss gradient and H the Hessian (exact Hessian-vector product)",
    defaults={"temperature": 1.0},
    check=lambda o: _check_temperature(o["temperature"]),
)
def grasp(ctx: ProxyContext, temperature: float = 1.0) -> float:
    """Σ −W ⊙ (H·g) over scored weights; layers without a gradient contribute zero."""
    _check_temperature(temperature)
    data = ctx.data_pass(temperature=float(temperature))
    total = 0.0
    for weight, hg in zip(data.weights, data.hessian_grads):
        if hg is not None:
            total += float((-weight.detach() * hg).sum())
    return total
