"""swap and reg_swap: the number of distinct sample-wise activation patterns (Peng et al., SWAP-NAS, ICLR 2024).

What we read: the paper's abstract and Section 3 and the authors' code (pym1024/SWAP ``src/metrics/swap.py``,
``correlation.py``, ``src/utils/utilities.py``).
- Forward hooks on every ``nn.ReLU`` whose input is 4-D keep the output; the outputs are flattened per sample
  and concatenated into a (samples × units) matrix; ``sign`` makes it binary (a ReLU output is ≥ 0); SWAP is
  the number of distinct rows of its transpose, i.e. of distinct patterns a unit shows over the samples.
  So SWAP ≤ units read and SWAP ≤ 2^samples.
- The code's protocol: 16 real training images (``--input_samples 16``); before each of 32 repeats
  (``--repeats 32``) the network is re-initialised (Conv2d/Linear weights N(0, 1), biases 0, BatchNorm weight 1
  and bias 0); the model is in train mode (never set to eval); the score is the mean over the repeats.
  Defaults here: ``samples=16`` (the first 16 of the minibatch; 0 = all), ``repeats=32``, ``init="gaussian"``
  on a copy; ``init="model"`` keeps the model's own weights (then the repeats are identical).
- reg_swap multiplies by the code's regulariser exp(−(Θ − μ)² / σ), Θ the parameter count in thousands (all
  parameters). The code takes μ and σ as inputs and we found no NB-201 values in it, so ``mu`` and ``sigma`` are
  our label-free choice: μ = 1600 (just above NB-201's largest network, 1,531 k parameters at 10 classes), σ =
  1.6e6 (= μ², so the factor runs from e^-1.6 ≈ 0.2 for the smallest NB-201 networks to about 1 for the largest).
- Degenerate cells: a network whose ReLU inputs do not depend on the samples shows one pattern; SWAP = 1 is a
  finite value (the smallest possible for a model with a ReLU); a model without a ReLU on a 4-D input gives NaN
  with a reason (the code returns None).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from zcnas.proxies.passes import NotFinite, ProxyContext, run_forward
from zcnas.proxies.recorders import ReluCodes
from zcnas.proxies.registry import register_proxy

_PAPER = "Peng et al., SWAP-NAS: Sample-Wise Activation Patterns for Ultra-fast NAS, ICLR 2024"


def gaussian_init_(net: nn.Module, generator: torch.Generator) -> nn.Module:
    """Zen-NAS's and SWAP's re-init, in place: Conv2d/Linear weights N(0, 1) and biases 0, BatchNorm2d /
    GroupNorm weight 1 and bias 0 (when affine).

    Example:
        >>> net = gaussian_init_(nn.Linear(3, 2), torch.Generator().manual_seed(0))
        >>> float(net.bias.abs().sum())
        0.0
    """
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, generator=generator)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
    return net


def swap_count(net: nn.Module, x: torch.Tensor) -> int:
    """Distinct sample-wise patterns of the 4-D ReLU inputs of ``net`` on ``x`` (one no-grad forward).

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), nn.ReLU())
        >>> with torch.no_grad():
        ...     _ = net[0].weight.fill_(1.0)
        >>> swap_count(net, torch.tensor([[[[1.0, -1.0]]], [[[1.0, 1.0]]]]))  # patterns (1,1) and (0,1)
        2
    """
    codes = ReluCodes(kernel=False, patterns=True)
    with codes.attached(net), torch.no_grad():
        run_forward(net, x)
    if codes.pattern_units == 0:
        raise NotFinite("swap: the model has no nn.ReLU with a 4-D input, so there are no activation patterns")
    return codes.distinct_patterns()


def _swap(ctx: ProxyContext, samples: int, repeats: int, init: str) -> float:
    if init not in ("gaussian", "model"):
        raise ValueError(f"swap option init={init!r} is not allowed; use 'gaussian' (the paper) or 'model'")

    def build() -> float:
        net = ctx.copy_model()
        x = ctx.inputs if samples == 0 else ctx.inputs[:samples]
        generator = ctx.generator("swap")
        counts = []
        for _ in range(repeats if init == "gaussian" else 1):
            if init == "gaussian":
                gaussian_init_(net, generator)
            counts.append(swap_count(net, x))
        return sum(counts) / len(counts)

    return ctx.cached(f"swap|{samples}|{repeats}|{init}", build)  # type: ignore[return-value]


def _check(options: dict) -> None:
    if options["samples"] < 0:
        raise ValueError(f"swap option samples={options['samples']!r} is not allowed; use 0 (all) or more")
    if options["repeats"] < 1:
        raise ValueError(f"swap option repeats={options['repeats']!r} is not allowed; use an integer >= 1")
    if "sigma" in options and not options["sigma"] > 0:
        raise ValueError(f"reg_swap option sigma={options['sigma']!r} is not allowed; use a positive number")


_DEFAULTS = {"samples": 16, "repeats": 32, "init": "gaussian"}


@register_proxy(
    "swap",
    needs_labels=False,
    paper=_PAPER,
    description="distinct sample-wise ReLU activation patterns over 16 samples, mean of 32 Gaussian re-inits",
    defaults=dict(_DEFAULTS),
    choices={"init": ("gaussian", "model")},
    check=_check,
)
def swap(ctx: ProxyContext, samples: int = 16, repeats: int = 32, init: str = "gaussian") -> float:
    """SWAP-Score."""
    return _swap(ctx, samples, repeats, init)


def size_regulariser(parameters: int, mu: float, sigma: float) -> float:
    """The code's factor exp(−(Θ − μ)² / σ) with Θ = parameters / 1000.

    Example:
        >>> size_regulariser(1_600_000, 1600.0, 1.6e6)
        1.0
    """
    return math.exp(-((parameters / 1e3 - mu) ** 2) / sigma)


@register_proxy(
    "reg_swap",
    needs_labels=False,
    paper=_PAPER + " (regularised SWAP)",
    description="swap times exp(-(params/1e3 - mu)^2 / sigma), the code's model-size regulariser",
    defaults={**_DEFAULTS, "mu": 1600.0, "sigma": 1.6e6},
    choices={"init": ("gaussian", "model")},
    check=_check,
)
def reg_swap(ctx: ProxyContext, samples: int = 16, repeats: int = 32, init: str = "gaussian",
             mu: float = 1600.0, sigma: float = 1.6e6) -> float:
    """Regularised SWAP; shares the SWAP forwards when both are asked with the same options."""
    _check({"samples": samples, "repeats": repeats, "sigma": sigma})
    parameters = sum(p.numel() for p in ctx.model.parameters())
    return _swap(ctx, samples, repeats, init) * size_regulariser(parameters, mu, sigma)
