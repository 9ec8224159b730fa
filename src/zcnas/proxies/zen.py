"""zen: log E‖f(x) − f(x + γε)‖₁ + Σ_BN log √mean(running_var) (Lin et al., Zen-NAS, ICCV 2021).

What we read: the paper (Section 3) and the authors' code (idstcv/ZenNAS ``ZeroShotProxy/compute_zen_score.py``;
the NB-201 port in cvlab-yonsei/AZ-NAS ``NB201/ZeroShotProxy/compute_zen_score.py``; NASLib ``measures/zen.py``).
- On a *copy* (the caller's model is untouched): Conv2d/Linear weights N(0, 1), biases 0, BatchNorm weight 1
  and bias 0; inputs x ~ N(0, 1) and x' = x + γ·ε with ε ~ N(0, 1), γ = 0.01 (``mixup_gamma``); f = the
  pre-global-average-pool features; the score is log mean_n Σ_{c,h,w} |f(x) − f(x')| plus, for every
  ``nn.BatchNorm2d``, log √mean(running_var) read *after* the two forwards, in train mode with the module's
  momentum (the code's quirk: the running variance mixes the initial 1 with the two batches' variances).
  Everything under ``torch.no_grad``.
- Choices: the batch size and image size are the minibatch's (the minibatch's values are not read, so zen is
  data-free); ``repeat`` (default 1, as the NB-201 port and NASLib; Zen-NAS's own script averages 32 at batch
  16) re-inits and redraws each time and averages. f is the input of the last global-pooling module called
  (``nn.AdaptiveAvgPool2d``/``AdaptiveMaxPool2d``), the generic form of the code's ``forward_pre_GAP``;
  running statistics are reset on the copy first (a freshly built model's, as the code has); a BatchNorm
  without running statistics (NB-201's reference-compatible cell) has no variance term.
- Degenerate cells: when f does not depend on the input (every path to the output is ``none``), the
  difference is 0 and the score is log 0: NaN with a reason.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from zcnas.proxies.passes import NotFinite, ProxyContext, run_forward
from zcnas.proxies.registry import register_proxy
from zcnas.proxies.swap import gaussian_init_

_POOLS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


def pre_pool_features(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The input of the last global-pooling module ``net`` calls on ``x``; ValueError when it calls none.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        >>> tuple(pre_pool_features(net, torch.zeros(1, 3, 4, 4)).shape)
        (1, 2, 4, 4)
    """
    seen: list[torch.Tensor] = []
    handles = [m.register_forward_pre_hook(lambda m, args: seen.append(args[0])) for m in net.modules()
               if isinstance(m, _POOLS)]
    try:
        run_forward(net, x)
    finally:
        for handle in handles:
            handle.remove()
    if not seen:
        raise ValueError("zen needs the features before a global pooling layer, but the model calls no "
                         "nn.AdaptiveAvgPool2d or nn.AdaptiveMaxPool2d")
    return seen[-1]


@torch.no_grad()
def _zen_once(net: nn.Module, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device,
              gamma: float, generator: torch.Generator) -> float:
    gaussian_init_(net, generator)
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
            m.reset_running_stats()
    x = torch.randn(shape, generator=generator, dtype=dtype, device=device)
    noise = torch.randn(shape, generator=generator, dtype=dtype, device=device)
    f = pre_pool_features(net, x)
    f_mixed = pre_pool_features(net, x + gamma * noise)
    diff = (f - f_mixed).abs().reshape(f.shape[0], -1).sum(1).mean()
    bn_term = 0.0
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d) and m.running_var is not None:
            bn_term += math.log(math.sqrt(float(m.running_var.mean())))
    value = math.log(float(diff)) if float(diff) > 0 else -math.inf
    if not math.isfinite(value):
        raise NotFinite("zen: the pre-pooling features do not change with the input (log 0), e.g. a cell "
                        "whose output is all 'none'")
    return value + bn_term


def _check(options: dict) -> None:
    if options["repeat"] < 1:
        raise ValueError(f"zen option repeat={options['repeat']!r} is not allowed; use an integer >= 1")
    if not options["mixup_gamma"] > 0:
        raise ValueError(f"zen option mixup_gamma={options['mixup_gamma']!r} is not allowed; use a positive number")


@register_proxy(
    "zen",
    needs_labels=False,
    input_kind="gaussian",
    data_free=True,
    paper="Lin et al., Zen-NAS: A Zero-Shot NAS for High-Performance Image Recognition, ICCV 2021",
    description="log of the pre-GAP feature change under a 0.01 Gaussian input perturbation plus the BatchNorm "
                "variance term, on a N(0,1) re-init",
    defaults={"repeat": 1, "mixup_gamma": 1e-2},
    check=_check,
)
def zen(ctx: ProxyContext, repeat: int = 1, mixup_gamma: float = 1e-2) -> float:
    """Zen-score on a Gaussian re-initialised copy with Gaussian inputs of the minibatch's shape."""
    _check({"repeat": repeat, "mixup_gamma": mixup_gamma})
    net = ctx.copy_model()
    generator = ctx.generator("zen")
    shape = tuple(ctx.inputs.shape)
    values = [_zen_once(net, shape, ctx.inputs.dtype, ctx.inputs.device, mixup_gamma, generator)
              for _ in range(repeat)]
    return sum(values) / len(values)
