"""Forward-hook recorders: what activation-based proxies read from one forward, reduced as the forward runs.

A recorder attaches hooks to a model copy, reduces each activation the moment it is produced (so nothing of
batch × units size is kept), and detaches. The shared data pass of ``zcnas.proxies.passes`` attaches
``ReluCodes`` when a requested proxy declares the ``relu_codes`` pass, so NASWOT reads the same forward as the
paper's six; proxies whose paper prescribes another model or batch (SWAP's Gaussian re-init, MeCo's single
sample) run these recorders on their own forward.

- ``ReluCodes``: the binary code 1[x > 0] of every ``nn.ReLU`` input, per sample. It accumulates NASWOT's kernel
  K = c cᵀ + (1 − c)(1 − c)ᵀ summed over ReLUs (float64) and, for ReLUs with a 4-D input, packs each unit's
  pattern over the samples into integers, so SWAP's count of distinct patterns is one ``unique`` at the end.
- ``MinEigen``: for every module's output, the smallest eigenvalue of the channel correlation matrix of the first
  sample (MeCo), optionally on a random subset of channels.

Example:
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Conv2d(3, 2, 1), nn.ReLU())
    >>> codes = ReluCodes(kernel=True, patterns=True)
    >>> with codes.attached(net), torch.no_grad():
    ...     _ = net(torch.randn(4, 3, 2, 2, generator=torch.Generator().manual_seed(0)))
    >>> codes.units, float(codes.kernel[0, 0])
    (8, 8.0)
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

__all__ = ["MinEigen", "ReluCodes", "count_distinct_rows", "pack_patterns"]

#: Samples packed into one int64 word (63 keeps every word non-negative).
_BITS = 63


def pack_patterns(codes: torch.Tensor) -> torch.Tensor:
    """Each column of a (samples, units) 0/1 matrix as a row of int64 words: (units, ceil(samples / 63)).

    Two units get equal rows exactly when their patterns over the samples are equal.

    Example:
        >>> pack_patterns(torch.tensor([[1, 0, 1], [1, 1, 1]])).tolist()
        [[3], [2], [3]]
    """
    n = codes.shape[0]
    words = []
    for start in range(0, n, _BITS):
        block = codes[start:start + _BITS].to(torch.int64)
        powers = torch.pow(2, torch.arange(block.shape[0], dtype=torch.int64, device=block.device))
        words.append((block * powers[:, None]).sum(0))
    return torch.stack(words, dim=1)


def count_distinct_rows(rows: torch.Tensor) -> int:
    """The number of distinct rows of an integer matrix.

    Example:
        >>> count_distinct_rows(torch.tensor([[1, 2], [1, 2], [0, 2]]))
        2
    """
    if rows.shape[0] == 0:
        return 0
    if rows.shape[1] == 1:
        return int(torch.unique(rows[:, 0]).numel())
    return int(torch.unique(rows, dim=0).shape[0])


class ReluCodes:
    """NASWOT's kernel and SWAP's packed patterns from the inputs of every ``nn.ReLU`` of one forward.

    Args:
        kernel: accumulate K (samples × samples, float64) over every ReLU, as NASWOT does.
        patterns: keep the packed per-unit patterns of ReLUs whose input is 4-D, as SWAP reads them.
        max_samples: when set, only the first this many samples are read (the forward still sees all).
    """

    def __init__(self, kernel: bool = True, patterns: bool = False, max_samples: int | None = None) -> None:
        self.want_kernel = kernel
        self.want_patterns = patterns
        self.max_samples = max_samples
        self.kernel: torch.Tensor | None = None
        self.units = 0
        self.pattern_units = 0
        self.relus = 0
        self._patterns: list[torch.Tensor] = []

    @contextmanager
    def attached(self, net: nn.Module) -> Iterator[ReluCodes]:
        """Hooks on every ``nn.ReLU`` of ``net`` inside the block (pre-hooks: an in-place ReLU is read before
        it writes)."""
        handles = [m.register_forward_pre_hook(self._hook) for m in net.modules() if isinstance(m, nn.ReLU)]
        try:
            yield self
        finally:
            for handle in handles:
                handle.remove()

    def _hook(self, module: nn.Module, args: tuple) -> None:
        x = args[0].detach()
        if self.max_samples is not None:
            x = x[: self.max_samples]
        codes = (x > 0).reshape(x.shape[0], -1)
        units = codes.shape[1]
        self.relus += 1
        self.units += units
        if self.want_kernel:
            # c cᵀ + (1 − c)(1 − c)ᵀ = 2 c cᵀ − s_i − s_j + units, with s the count of ones per sample; the
            # matrix product of 0/1 values is exact in float32 below 2**24 units.
            dtype = torch.float32 if units < 2**24 else torch.float64
            c = codes.to(dtype)
            shared = (c @ c.T).to(torch.float64)
            ones = c.sum(1).to(torch.float64)
            layer = 2 * shared - ones[:, None] - ones[None, :] + units
            self.kernel = layer if self.kernel is None else self.kernel + layer
        if self.want_patterns and x.dim() == 4:
            self._patterns.append(pack_patterns(codes))
            self.pattern_units += units

    def distinct_patterns(self) -> int:
        """SWAP's count: distinct sample-wise patterns among the units of ReLUs with a 4-D input."""
        if not self._patterns:
            return 0
        return count_distinct_rows(torch.cat(self._patterns, dim=0))


def _min_eigenvalue(matrix: torch.Tensor, solver: str) -> float:
    if solver == "eig":
        return float(torch.linalg.eigvals(matrix).real.min())
    return float(torch.linalg.eigvalsh(matrix).min())


class MinEigen:
    """MeCo's per-module values: λ_min of the channel correlation of the first sample of each module's output.

    Every module is hooked, containers and the model itself included, as the MeCo code does
    (``net.named_modules()``), so a feature map that leaves several nested modules counts once per module.
    A module output ``out`` of shape (batch, C, ...) gives the C × C Pearson correlation of the rows of
    ``out[0].reshape(C, -1)``; non-finite entries (constant channels) are set to 0, as MeCo does.

    Args:
        channels: when set, a random subset of this many channels (MeCo_opt, drawn with ``generator``), the
            eigenvalue scaled by C / channels; a layer with at most that many channels uses all of them.
        generator: the random generator of the channel subsets.
        solver: "eig" (MeCo's general solver) or "eigvalsh" (symmetric).
    """

    def __init__(self, channels: int | None = None, generator: torch.Generator | None = None,
                 solver: str = "eig") -> None:
        self.channels = channels
        self.generator = generator
        self.solver = solver
        self.values: list[float] = []

    @contextmanager
    def attached(self, net: nn.Module) -> Iterator[MinEigen]:
        handles = [m.register_forward_hook(self._hook) for m in net.modules()]
        try:
            yield self
        finally:
            for handle in handles:
                handle.remove()

    def _hook(self, module: nn.Module, args: tuple, output: object) -> None:
        if not isinstance(output, torch.Tensor) or output.dim() < 2 or not output.is_floating_point():
            return
        fea = output[0].detach()
        fea = fea.reshape(fea.shape[0], -1)
        n = fea.shape[0]
        scale = 1.0
        if self.channels is not None and n > self.channels:
            idx = torch.randperm(n, generator=self.generator, device=fea.device)[: self.channels]
            fea = fea[idx]
            scale = n / self.channels
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            corr = torch.corrcoef(fea).reshape(fea.shape[0], fea.shape[0])
        corr = torch.where(torch.isfinite(corr), corr, torch.zeros_like(corr))
        self.values.append(_min_eigenvalue(corr, self.solver) * scale)
