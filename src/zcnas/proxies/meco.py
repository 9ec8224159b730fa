"""meco and meco_opt: Σ over modules of λ_min of the channel correlation of one sample's feature map.

What we read: the paper (Jiang et al., MeCo, NeurIPS 2023, Eq. 6) and the authors' code
(HamsterMimi/MeCo ``correlation/NAS_Bench_201.py``, ``get_score``).
- A forward hook on *every* module (``net.named_modules()``: leaves, containers and the model itself) takes
  the first sample of the module's output, ``out[0].reshape(C, -1)``, and the C × C Pearson correlation of its
  channels (``torch.corrcoef``); NaN/inf entries (constant channels) are set to 0; λ_min is the smallest real
  part of ``torch.linalg.eig``. The score sums λ_min over the modules, dropping NaN and inf values.
  A feature map that leaves several nested modules (a conv op's BatchNorm and its Sequential) is counted
  once per module, so the value depends on how a model nests its modules (as in the code).
- Input: NB-201's script runs one real training image (``--batch_size 1``) through a freshly built network in
  train mode. We run the *first sample of the minibatch* alone through a train-mode copy with the model's own
  init (a batch of one: BatchNorm normalises over that image's pixels).
- ``meco_opt`` (the code's ``--measure meco_opt``): per module a random subset of 8 channels
  (``random.sample`` in the code; here ``torch.randperm`` from the call's generator), λ_min scaled by C / 8.
  The code fails on a module with fewer than 8 channels; we use all its channels (scale 1).
- ``eigen_solver="eigvalsh"`` is the symmetric solver (a deviation; same values up to rounding).
- Degenerate values: a module with identical (or constant) channels has λ_min = 0, so MeCo of a network whose
  feature maps carry no information is 0, a finite value, as in the code; a model with no module producing a
  (batch, C, ...) output gives NaN with a reason.
"""

from __future__ import annotations

import math

import torch

from zcnas.proxies.passes import NotFinite, ProxyContext, run_forward
from zcnas.proxies.recorders import MinEigen
from zcnas.proxies.registry import register_proxy

_PAPER = "Jiang et al., MeCo: Zero-Shot NAS with One Data and Single Forward Pass via Minimum Eigenvalue of " \
         "Pearson Correlation, NeurIPS 2023"


def meco_sum(values: list[float]) -> float:
    """Sum of the per-module λ_min values, dropping NaN and inf as the code does.

    Example:
        >>> meco_sum([0.5, float("nan"), 0.25, float("inf")])
        0.75
    """
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        raise NotFinite("meco: no module produced a (batch, channels, ...) output with a finite eigenvalue")
    return float(sum(finite))


def _meco(ctx: ProxyContext, channels: int | None, eigen_solver: str) -> float:
    key = f"meco_forward|{channels}|{eigen_solver}"

    def build() -> list[float]:
        net = ctx.copy_model()
        recorder = MinEigen(channels=channels, generator=ctx.generator("meco_opt"), solver=eigen_solver)
        with recorder.attached(net), torch.no_grad():
            run_forward(net, ctx.inputs[:1])
        return recorder.values

    return meco_sum(ctx.cached(key, build))  # type: ignore[arg-type]


@register_proxy(
    "meco",
    needs_labels=False,
    paper=_PAPER,
    description="sum over modules of the minimum eigenvalue of the channel correlation of the first sample",
    defaults={"eigen_solver": "eig"},
    choices={"eigen_solver": ("eig", "eigvalsh")},
)
def meco(ctx: ProxyContext, eigen_solver: str = "eig") -> float:
    """MeCo on the first sample of the minibatch."""
    return _meco(ctx, None, eigen_solver)


@register_proxy(
    "meco_opt",
    needs_labels=False,
    paper=_PAPER + " (MeCo_opt, channel-sampled)",
    description="meco on a random subset of 8 channels per module, each eigenvalue scaled by C/8",
    defaults={"channels": 8, "eigen_solver": "eig"},
    choices={"eigen_solver": ("eig", "eigvalsh")},
    check=lambda o: _check_channels(o["channels"]),
)
def meco_opt(ctx: ProxyContext, channels: int = 8, eigen_solver: str = "eig") -> float:
    """MeCo_opt: channel-sampled MeCo."""
    _check_channels(channels)
    return _meco(ctx, channels, eigen_solver)


def _check_channels(channels: int) -> None:
    if channels < 1:
        raise ValueError(f"meco_opt option channels={channels!r} is not allowed; use an integer >= 1")
