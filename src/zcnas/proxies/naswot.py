"""naswot: log|det K| of the binary codes of every ReLU input (Mellor et al., NAS without training, ICML 2021 v2).

What we read: the paper (v2, Section 3) and the authors' code (BayesWatch/nas-without-training, the hook in
``score_networks.py``), as NASLib's ``measures/nwot.py`` re-implements it.
- A forward hook on every ``nn.ReLU`` takes the ReLU *input* x of each sample, flattened, and its code
  c = 1[x > 0]; the kernel K = c cᵀ + (1 − c)(1 − c)ᵀ (= units − Hamming distance) is summed over all ReLUs,
  whatever their input's rank.
- Score = log|det K| from ``slogdet``. The network is in train mode: BatchNorm uses the batch's statistics
  (BayesWatch/nas-without-training#1: eval mode was a bug).
- Choices: the batch is the minibatch as given (the paper uses 128; the scoring default is 64), the model's own
  init (no re-init), and the forward is the shared data pass (``relu_codes``), so NASWOT adds no forward to
  the paper's six. A singular kernel (log|det| = −inf, e.g. a cell whose output is all ``none``, which gives
  every sample the same code) is NaN with a reason; the code returns −inf there.
"""

from __future__ import annotations

import math

import torch

from zcnas.proxies.passes import NotFinite, ProxyContext
from zcnas.proxies.registry import register_proxy


def kernel_logdet(kernel: torch.Tensor) -> float:
    """log|det K|, or NotFinite when K is singular.

    Example:
        >>> round(kernel_logdet(torch.tensor([[2.0, 1.0], [1.0, 2.0]], dtype=torch.float64)), 6)  # det 3
        1.098612
    """
    sign, logabsdet = torch.linalg.slogdet(kernel)
    value = float(logabsdet)
    if float(sign) == 0 or not math.isfinite(value):
        raise NotFinite("naswot: the ReLU-code kernel is singular (two samples share every code, e.g. a cell "
                        "whose output does not depend on its input)")
    return value


@register_proxy(
    "naswot",
    needs_labels=False,
    passes=("relu_codes",),
    paper="Mellor et al., Neural Architecture Search without Training, ICML 2021 (arXiv v2)",
    description="log|det K| of the kernel of binary ReLU-input codes, summed over ReLUs (train-mode BN)",
)
def naswot(ctx: ProxyContext) -> float:
    """NASWOT from the ReLU codes recorded by the shared data forward."""
    relu = ctx.data_pass().relu
    if relu is None or relu.kernel is None:
        raise NotFinite("naswot: the model has no nn.ReLU module, so there are no activation codes")
    return kernel_logdet(relu.kernel)
