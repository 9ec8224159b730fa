"""The NAS-Bench-101 network: a ConvBnRelu stem, stacks of cells with max-pool and channel doubling, a linear head.

As the benchmark builds it (and the zero-cost reference's PyTorch port, REFERENCE section 2.2):
- stem: ConvBnRelu 3x3, 3 -> 128 channels; 3 stacks of 3 cells; before every stack but the first, MaxPool 2x2
  stride 2 and twice the channels (128 -> 256 -> 512); head: mean over H and W, then Linear(512 -> classes);
- ConvBnRelu is Conv (no bias, padding k//2) -> BatchNorm (PyTorch defaults: momentum 0.1, eps 1e-5; the
  benchmark's TensorFlow used momentum 0.997) -> ReLU; ``maxpool3x3`` is MaxPool 3x3, stride 1, padding 1;
- in a cell the output channels are split evenly over the vertices that feed the output, the remainder one
  each to the earliest of them; every other interior vertex gets the largest channel count of its successors;
  the cell input reaches each vertex it feeds through its own 1x1 ConvBnRelu projection; a vertex sums its
  predecessors, each truncated to the vertex's channels, and the projected input; the cell output is the
  concatenation of the vertices that feed it, plus the projected input when input -> output is an edge (a cell
  that is only that edge outputs the projection);
- init: conv weights ~ N(0, sqrt(2 / (k*k*C_out))), BatchNorm weight 1 and bias 0, Linear weight ~ N(0, 0.01)
  and bias 0.

The reference removes every BatchNorm in its BatchNorm-free copy, so no layer carries a mark.

Example:
    >>> from zcnas.spaces import nb101
    >>> from zcnas.spaces.nb101_model import vertex_channels
    >>> vertex_channels(nb101.from_string("331/1110-001-01-1"), 128, 128)
    [128, 43, 43, 42, 128]
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from zcnas.spaces.nb101 import NB101Cell

# The benchmark's op names; the network owns them and the codec (zcnas.spaces.nb101) imports them.
CONV3X3 = "conv3x3-bn-relu"
CONV1X1 = "conv1x1-bn-relu"
MAXPOOL3X3 = "maxpool3x3"


class ConvBnRelu(nn.Sequential):
    """Conv(kernel, stride 1, padding kernel//2, no bias) -> BatchNorm -> ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int):
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride=1, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=False),
        )


def make_op(name: str, channels: int) -> nn.Module:
    """One vertex op at ``channels`` in and out."""
    if name == CONV3X3:
        return ConvBnRelu(channels, channels, 3)
    if name == CONV1X1:
        return ConvBnRelu(channels, channels, 1)
    if name == MAXPOOL3X3:
        return nn.MaxPool2d(3, stride=1, padding=1)
    raise ValueError(f"unknown NAS-Bench-101 op {name!r}; allowed: {CONV3X3}, {CONV1X1}, {MAXPOOL3X3}")


def vertex_channels(cell: NB101Cell, c_in: int, c_out: int) -> list[int]:
    """The channels of every vertex of a pruned cell (input ``c_in``, output ``c_out``)."""
    v = cell.num_vertices
    m = cell.matrix
    channels = [0] * v
    channels[0], channels[v - 1] = c_in, c_out
    if v == 2:
        return channels
    feeders = [k for k in range(1, v - 1) if m[k][v - 1]]
    share, extra = divmod(c_out, len(feeders))
    if share == 0:
        raise ValueError(f"{c_out} output channels cannot be split over {len(feeders)} vertices; use more channels")
    for rank, k in enumerate(feeders):
        channels[k] = share + (1 if rank < extra else 0)
    for k in range(v - 2, 0, -1):
        if not m[k][v - 1]:
            channels[k] = max(channels[d] for d in range(k + 1, v - 1) if m[k][d])
    return channels


class Cell(nn.Module):
    """One NAS-Bench-101 cell (a module) from ``c_in`` to ``c_out`` channels."""

    def __init__(self, cell: NB101Cell, c_in: int, c_out: int):
        super().__init__()
        self.spec = cell
        v = cell.num_vertices
        self.channels = vertex_channels(cell, c_in, c_out)
        self.ops = nn.ModuleDict({str(k): make_op(cell.ops[k], self.channels[k]) for k in range(1, v - 1)})
        self.projections = nn.ModuleDict(
            {str(k): ConvBnRelu(c_in, self.channels[k], 1) for k in range(1, v) if cell.matrix[0][k]}
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.spec.matrix
        v = self.spec.num_vertices
        values: list[torch.Tensor | None] = [x] + [None] * (v - 1)
        for k in range(1, v - 1):
            width = self.channels[k]
            terms = [values[src][:, :width] for src in range(1, k) if m[src][k]]  # type: ignore[index]
            if m[0][k]:
                terms.append(self.projections[str(k)](x))
            total = terms[0]
            for term in terms[1:]:
                total = total + term
            values[k] = self.ops[str(k)](total)
        parts = [values[k] for k in range(1, v - 1) if m[k][v - 1]]
        out = torch.cat(parts, dim=1) if len(parts) > 1 else (parts[0] if parts else None)  # type: ignore[arg-type]
        if m[0][v - 1]:
            projected = self.projections[str(v - 1)](x)
            out = projected if out is None else out + projected
        return out  # type: ignore[return-value]


class NB101Network(nn.Module):
    """The NAS-Bench-101 network of one (pruned) cell.

    Args:
        cell: the cell, pruned and checked (``zcnas.spaces.nb101.canonical`` or ``check``).
        num_classes: outputs of the classifier.
        stem_channels: channels of the stem and of the first stack (128 in the benchmark).
        num_stacks: stacks of cells (3); channels double before each stack after the first.
        cells_per_stack: cells per stack (3).
        seed: when given, the init draws from this seed without touching the global random state.
    """

    def __init__(self, cell: NB101Cell, num_classes: int = 10, stem_channels: int = 128, num_stacks: int = 3,
                 cells_per_stack: int = 3, *, seed: int | None = None):
        super().__init__()
        for name, value in (("num_classes", num_classes), ("stem_channels", stem_channels),
                            ("num_stacks", num_stacks), ("cells_per_stack", cells_per_stack)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} is not allowed; use an integer >= 1")
        self.spec = cell
        if seed is None:
            self._build(cell, num_classes, stem_channels, num_stacks, cells_per_stack)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(seed))
                self._build(cell, num_classes, stem_channels, num_stacks, cells_per_stack)

    def _build(self, cell: NB101Cell, num_classes: int, stem_channels: int, num_stacks: int,
               cells_per_stack: int) -> None:
        c = stem_channels
        layers: list[nn.Module] = [ConvBnRelu(3, c, 3)]
        c_in = c
        for stack in range(num_stacks):
            if stack > 0:
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                c *= 2
            for _ in range(cells_per_stack):
                layers.append(Cell(cell, c_in, c))
                c_in = c
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)  # global average pooling; a module so that Zen-NAS finds the pre-GAP map
        self.classifier = nn.Linear(c, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                fan = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
                nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan))
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"a NAS-Bench-101 network takes inputs of shape (N, 3, H, W); got {tuple(x.shape)}")
        x = self.layers(x)
        return self.classifier(self.pool(x).flatten(1))
