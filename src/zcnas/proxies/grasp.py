"""grasp: −W ⊙ (H g), the reference's GraSP variant (T=1, one minibatch, sign flipped).

The reference computes g = ∂L/∂W, then the gradient of z = Σ ⟨stop_grad(g), ∂L/∂W⟩ (built with create_graph),
which is the Hessian-gradient product H·g, and scores −W ⊙ H·g summed with signs. Its comment says the sign was
flipped because accuracy came out negatively correlated; we keep that sign. The original GraSP uses T=200 and a
class-balanced batch: ``temperature`` is a named option (any value but 1 runs its own pass).

Deviation (opt-in, off by default): ``hessian="central_difference"`` replaces the exact product (a double
backward) by (g(W + εg) − g(W − εg)) / 2ε, and ``hessian="forward_difference"`` by (g(W + εg) − g(W)) / ε, with
ε = ``fd_eta``·‖W‖/‖g‖ (norms over all scored weights that have a gradient: the weights move by ``fd_eta`` of
their norm) and every ``nn.ReLU`` kept at the unperturbed forward's on/off pattern. The frozen pattern matters:
the exact product treats ReLU'' as 0, while a plain difference of a ReLU network's gradients picks up the jumps
of the units whose input crosses 0 (relative errors of order 1 on NB-201 cells at every step size, even in
float64). The shared loss gradient is then built without create_graph. Other kinks (max-pool, functional relu)
are not frozen. The default step 1e-5 balances float32 rounding against the O(ε²) error; agreement with the
exact value and the timings: docs/results/performance.md.
"""

from __future__ import annotations

from zcnas.proxies.passes import ProxyContext
from zcnas.proxies.registry import register_proxy

#: The ways grasp may compute H·g: the reference's exact double backward, or a finite difference of gradients.
HESSIAN_MODES: tuple[str, ...] = ("exact", "central_difference", "forward_difference")

#: Default relative step of the finite difference: the scored weights move by this fraction of their norm.
DEFAULT_FD_ETA = 1e-5


def _check(options: dict) -> None:
    temperature, eta = options["temperature"], options["fd_eta"]
    if not temperature > 0:
        raise ValueError(f"grasp option temperature={temperature!r} is not allowed; use a positive number (reference: 1)")
    if not 0 < eta < 1:
        raise ValueError(f"grasp option fd_eta={eta!r} is not allowed; use a number between 0 and 1 (default "
                         f"{DEFAULT_FD_ETA})")


def _passes(options: dict) -> tuple[str, ...]:
    return ("loss_grad", "hessian_grad") if options["hessian"] == "exact" else ("loss_grad", "relu_masks")


@register_proxy(
    "grasp",
    tags=("paper",),
    needs_labels=True,
    passes=("loss_grad", "hessian_grad"),
    passes_for=_passes,
    paper="Wang et al., GraSP, ICLR 2020 (as used by Abdelfattah et al., ICLR 2021)",
    description="signed sum of -W ⊙ Hg, with g the loss gradient and H the Hessian (exact Hessian-vector product)",
    defaults={"temperature": 1.0, "hessian": "exact", "fd_eta": DEFAULT_FD_ETA},
    choices={"hessian": HESSIAN_MODES},
    check=_check,
)
def grasp(ctx: ProxyContext, temperature: float = 1.0, hessian: str = "exact",
          fd_eta: float = DEFAULT_FD_ETA) -> float:
    """Σ −W ⊙ (H·g) over scored weights; layers without a gradient contribute zero.

    Example:
        >>> import torch, zcnas
        >>> net, x, y = torch.nn.Linear(3, 2).double(), torch.randn(5, 3).double(), torch.tensor([0, 1, 0, 1, 1])
        >>> exact = zcnas.compute_proxies(net, x, y, ["grasp"])["grasp"]
        >>> fd = zcnas.compute_proxies(net, x, y, ["grasp"], options={"grasp": {"hessian": "central_difference"}})
        >>> abs(fd["grasp"] - exact) <= 1e-6 * abs(exact)
        True
    """
    _check({"temperature": temperature, "fd_eta": fd_eta})
    if hessian == "exact":
        data = ctx.data_pass(temperature=float(temperature))
        products = data.hessian_grads
    elif hessian in HESSIAN_MODES:
        data = ctx.data_pass(temperature=float(temperature), hessian=False)
        products = ctx.hessian_grad_fd(data, hessian, float(fd_eta))
    else:
        raise ValueError(f"grasp option hessian={hessian!r} is not allowed; use one of: {', '.join(HESSIAN_MODES)}")
    total = 0.0
    for weight, hg in zip(data.weights, products):
        if hg is not None:
            total += float((-weight.detach() * hg).sum())
    return total
