"""AZ-NAS's expressivity, progressivity and trainability (Lee & Ham, AZ-NAS, CVPR 2024), one pass for all three.

What we read: the paper (Section 3) and the authors' code (cvlab-yonsei/AZ-NAS
``NB201/ZeroShotProxy/compute_az_nas_score.py``, ``NB201/custom/tss_model.py``, ``NB201/tss_general.ipynb``).
- A copy is re-initialised with Kaiming normal (fan-in, ReLU gain) on Conv2d/Linear weights, zero biases,
  BatchNorm weight 1 / bias 0 (``init_model(model, 'kaiming_norm_fanin')``), in train mode, and run on a
  Gaussian input x ~ N(0, 1) of the minibatch's shape (the notebook uses random inputs for AZ-NAS), so the
  three components are data-free.
- Features: the NB-201 model's ``extract_cell_features`` returns the stem output and the output of every cell
  and reduction block. Generically we take the model's trunk: the longest ``nn.Sequential`` (the first in
  ``modules()`` order on a tie; NB-201's ``cells``), its input and the output of each of its children, keeping
  the 4-D ones. ``stages`` names another module whose children are the stages (e.g. ``stages="features"``).
- expressivity = Σ_features H(p), p the eigenvalues of the channel covariance of the feature (pixels and
  samples as observations, ``eigvalsh``) normalised to sum 1, H(p) = Σ −p·log(p + 1e-8).
- progressivity = min over consecutive features of the increase of that entropy.
- trainability = mean over consecutive feature pairs (f_in → f_out) of −σ − 1/(σ + 1e-6) + 2, σ the largest
  singular value of E[g_in g_outᵀ] with g_out a random ±1 (Bernoulli ½) gradient at f_out and g_in its
  back-propagation to f_in; when the spatial sizes differ g_in is pixel-unshuffled by the stride; a stage
  that passes the gradient through unchanged (g_in == g_out) scores −inf, as the code does.
- The code maps NaN to −inf; we report NaN (and −inf) with a reason: the ensemble ranks NaN last, which is
  where the code's −inf lands. A feature of zeros (a cell whose output is all ``none``) has no eigenvalue mass:
  NaN expressivity and progressivity.
- The AZ-NAS score itself is the ensemble ``aznas`` (``zcnas.proxies.ensembles``): Σ log(rank/N) over these
  three and FLOPs, which needs the whole population.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zcnas.proxies.passes import NotFinite, ProxyContext, run_forward
from zcnas.proxies.registry import register_proxy

_PAPER = "Lee & Ham, AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture Search, CVPR 2024"


@dataclass(frozen=True)
class AZComponents:
    """The per-feature entropies and per-pair trainability scores of one pass."""

    entropies: tuple[float, ...]
    trainabilities: tuple[float, ...]


def kaiming_init_(net: nn.Module, generator: torch.Generator) -> nn.Module:
    """AZ-NAS's ``kaiming_norm_fanin`` re-init, in place."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu", generator=generator)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.affine:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
    return net


def trunk_of(net: nn.Module, stages: str = "auto") -> nn.Module:
    """The module whose children are the feature stages: the longest ``nn.Sequential``, or ``stages`` by name.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 1), nn.Sequential(nn.ReLU(), nn.Identity()), nn.ReLU())
        >>> trunk_of(net) is net
        True
    """
    if stages != "auto":
        modules = dict(net.named_modules())
        if stages not in modules:
            raise ValueError(f"aznas option stages={stages!r} names no module of the model; use 'auto' or one of: "
                             f"{', '.join(n for n in modules if n)}")
        return modules[stages]
    best = None
    for m in net.modules():
        if isinstance(m, nn.Sequential) and (best is None or len(m) > len(best)):
            best = m
    if best is None or len(best) < 1:
        raise ValueError("aznas needs the model's stages: the model has no nn.Sequential; pass stages=<module name>")
    return best


def entropy_of_feature(feat: torch.Tensor) -> float:
    """H of the normalised eigenvalues of the channel covariance of a (b, c, h, w) feature.

    Example:
        >>> round(entropy_of_feature(torch.eye(2).reshape(2, 2, 1, 1)), 6)  # one non-zero eigenvalue: H = 0
        0.0
    """
    b, c, h, w = feat.shape
    x = feat.detach().permute(0, 2, 3, 1).reshape(b * h * w, c)
    x = x - x.mean(dim=0, keepdim=True)
    sigma = x.T @ x / x.shape[0]
    s = torch.linalg.eigvalsh(sigma).clamp(min=0)
    p = s / s.sum()
    return float(((-p) * torch.log(p + 1e-8)).sum()) + 0.0  # + 0.0: no negative zero


def stage_trainability(f_in: torch.Tensor, f_out: torch.Tensor, generator: torch.Generator) -> float:
    """−σ − 1/(σ + 1e-6) + 2 for one stage, σ the top singular value of E[g_in g_outᵀ] (−inf for an identity)."""
    g_out = (torch.bernoulli(torch.full_like(f_out, 0.5), generator=generator) - 0.5) * 2
    (g_in,) = torch.autograd.grad(f_out, f_in, grad_outputs=g_out, retain_graph=True, allow_unused=True)
    if g_in is None:
        g_in = torch.zeros_like(f_in)
    if g_out.shape == g_in.shape and bool(torch.all(g_in == g_out)):
        return -math.inf
    if g_out.shape[2:] != g_in.shape[2:]:
        stride = g_in.shape[2] // g_out.shape[2]
        g_in = F.pixel_unshuffle(g_in, stride)
    bo, co, ho, wo = g_out.shape
    g_out = g_out.permute(0, 2, 3, 1).reshape(bo * ho * wo, co)
    g_in = g_in.permute(0, 2, 3, 1).reshape(-1, g_in.shape[1])
    mat = g_in.T @ g_out / (bo * ho * wo)
    top = float(torch.linalg.svdvals(mat).max())
    return -top - 1.0 / (top + 1e-6) + 2.0


def az_components(ctx: ProxyContext, stages: str = "auto") -> AZComponents:
    """The shared AZ-NAS pass (cached per call): Kaiming re-init, Gaussian input, features, entropies, stages."""

    def build() -> AZComponents:
        net = ctx.copy_model()
        generator = ctx.generator("aznas")
        kaiming_init_(net, generator)
        trunk = trunk_of(net, stages)
        features: list[torch.Tensor] = []
        handles = [trunk.register_forward_pre_hook(lambda m, args: features.append(args[0]))]
        handles += [child.register_forward_hook(lambda m, args, out: features.append(out))
                    for child in trunk.children()]
        x = torch.randn(tuple(ctx.inputs.shape), generator=generator, dtype=ctx.inputs.dtype,
                        device=ctx.inputs.device).requires_grad_(True)
        try:
            run_forward(net, x)
        finally:
            for handle in handles:
                handle.remove()
        maps = [f for f in features if isinstance(f, torch.Tensor) and f.dim() == 4]
        entropies = tuple(entropy_of_feature(f) for f in maps)
        trainabilities = tuple(stage_trainability(maps[i - 1], maps[i], generator)
                               for i in reversed(range(1, len(maps)))
                               if maps[i].requires_grad and maps[i - 1].requires_grad)
        return AZComponents(entropies, trainabilities)

    return ctx.cached(f"aznas|{stages}", build)  # type: ignore[return-value]


def _finite(name: str, value: float, why: str) -> float:
    if not math.isfinite(value):
        raise NotFinite(f"{name} is {value}: {why}")
    return float(value)


_OPTIONS = {"defaults": {"stages": "auto"}}


@register_proxy(
    "aznas_expressivity",
    needs_labels=False,
    input_kind="gaussian",
    data_free=True,
    paper=_PAPER + " (expressivity)",
    description="sum over stage features of the entropy of the normalised channel-covariance eigenvalues "
                "(Kaiming re-init, Gaussian input)",
    **_OPTIONS,
)
def aznas_expressivity(ctx: ProxyContext, stages: str = "auto") -> float:
    """Σ_features H(p)."""
    parts = az_components(ctx, stages)
    if not parts.entropies:
        raise NotFinite("aznas_expressivity: the model's stages produce no 4-D feature map")
    return _finite("aznas_expressivity", float(np.sum(parts.entropies)),
                   "a feature map has no variance (e.g. a cell whose output is all 'none')")


@register_proxy(
    "aznas_progressivity",
    needs_labels=False,
    input_kind="gaussian",
    data_free=True,
    paper=_PAPER + " (progressivity)",
    description="smallest increase of the feature entropy from one stage to the next",
    **_OPTIONS,
)
def aznas_progressivity(ctx: ProxyContext, stages: str = "auto") -> float:
    """min_i (H_i − H_{i−1})."""
    entropies = np.array(az_components(ctx, stages).entropies)
    if len(entropies) < 2:
        raise NotFinite("aznas_progressivity needs at least two stage feature maps")
    return _finite("aznas_progressivity", float(np.min(entropies[1:] - entropies[:-1])),
                   "a feature map has no variance (e.g. a cell whose output is all 'none')")


@register_proxy(
    "aznas_trainability",
    needs_labels=False,
    input_kind="gaussian",
    data_free=True,
    paper=_PAPER + " (trainability)",
    description="mean over stages of -s - 1/(s + 1e-6) + 2, s the top singular value of the stage's "
                "gradient map",
    **_OPTIONS,
)
def aznas_trainability(ctx: ProxyContext, stages: str = "auto") -> float:
    """mean over stages of the spectral-norm score of the backward map."""
    scores = az_components(ctx, stages).trainabilities
    if not scores:
        raise NotFinite("aznas_trainability needs at least two stage feature maps")
    return _finite("aznas_trainability", float(np.mean(scores)),
                   "a stage passes the gradient through unchanged (an identity cell), which AZ-NAS scores -inf")
