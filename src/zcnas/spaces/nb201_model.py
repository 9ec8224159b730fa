"""The NAS-Bench-201 network: stem, 3 stages of cells with 2 residual reduction blocks, BN-ReLU-GAP-Linear head.

Two cell variants:
- benchmark-faithful (default), as the benchmark trained it: cell ops ReLU → Conv (no bias) → BatchNorm
  (affine, running statistics); the all-``nor_conv_3x3`` network has 1,531,546 parameters and 220.1 M
  multiply-accumulates at 32×32 with 10 classes.
- ``reference_compatible=True``, the zero-cost reference's cell: BatchNorm without affine parameters or running
  statistics, and convolutions with a bias. Use it to compare scores with the reference exactly.

Only the chosen op of each edge is built (the reference builds all five on every edge; unused ones only
contribute zero scores but would distort parameter and FLOP counts). The reduction blocks' BatchNorm is marked
with ``zcnas.layer_marks.keep_when_batchnorm_removed``: the reference's BN-free copy keeps it, and synflow's default reproduces that.
"""

from __future__ import annotations

import torch
from torch import nn

from zcnas.layer_marks import keep_when_batchnorm_removed


class Zero(nn.Module):
    """The ``none`` op: a zero tensor of the input's shape (gradient zero), as the benchmark computes it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def relu_conv_bn(c_in: int, c_out: int, kernel: int, stride: int, affine: bool, track: bool) -> nn.Sequential:
    """ReLU → Conv(kernel, stride, padding kernel//2, bias when BN has no affine) → BatchNorm."""
    return nn.Sequential(
        nn.ReLU(inplace=False),
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=not affine),
        nn.BatchNorm2d(c_out, affine=affine, track_running_stats=track),
    )


#: The cell ops this module builds, in the benchmark's index order (none=0 ... avg_pool_3x3=4).
CELL_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: The cell's 6 edges (source node, target node), in the benchmark's string order.
CELL_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))


def make_op(name: str, channels: int, reference_compatible: bool) -> nn.Module:
    """One cell op at stride 1."""
    affine = track = not reference_compatible
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return relu_conv_bn(channels, channels, 1, 1, affine, track)
    if name == "nor_conv_3x3":
        return relu_conv_bn(channels, channels, 3, 1, affine, track)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NAS-Bench-201 op {name!r}; allowed: {', '.join(CELL_OPS)}")


class Cell(nn.Module):
    """A NAS-Bench-201 cell: node j = Σ_{i<j} op_{i→j}(node i); the output is node 3."""

    def __init__(self, edge_ops: tuple[str, ...], channels: int, reference_compatible: bool):
        super().__init__()
        self.edges = nn.ModuleList(make_op(op, channels, reference_compatible) for op in edge_ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for j in range(1, 4):
            total = None
            for k, (src, dst) in enumerate(CELL_EDGES):
                if dst == j:
                    out = self.edges[k](nodes[src])
                    total = out if total is None else total + out
            nodes.append(total)
        return nodes[3]


class ReductionBlock(nn.Module):
    """ResNet basic block, stride 2: ReLU-Conv3×3(s2)-BN, ReLU-Conv3×3-BN, plus AvgPool2×2 → Conv1×1 shortcut."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = relu_conv_bn(c_in, c_out, 3, 2, affine=True, track=True)
        self.conv_b = relu_conv_bn(c_out, c_out, 3, 1, affine=True, track=True)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                keep_when_batchnorm_removed(module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """The NAS-Bench-201 macro skeleton around one cell.

    Args:
        edge_ops: the op name of each of the 6 edges, in ``CELL_EDGES`` order (``zcnas.spaces.nb201`` turns an
            architecture string into these).
        num_classes: outputs of the classifier.
        channels: stem channels C (stages run at C, 2C, 4C).
        cells_per_stage: cells per stage (5 in the benchmark).
        reference_compatible: the zero-cost reference's cell variant (non-affine BN, conv bias).
        seed: when given, the weights are initialised from this seed (PyTorch's default init) without touching
            the global random state.
        arch: the architecture string, kept as a label.
    """

    def __init__(
        self,
        edge_ops: tuple[str, ...],
        num_classes: int = 10,
        channels: int = 16,
        cells_per_stage: int = 5,
        *,
        reference_compatible: bool = False,
        seed: int | None = None,
        arch: str = "",
    ):
        super().__init__()
        edge_ops = tuple(edge_ops)
        if len(edge_ops) != len(CELL_EDGES):
            raise ValueError(f"a NAS-Bench-201 cell has {len(CELL_EDGES)} edges; got {len(edge_ops)} ops")
        for name, value, low in (("num_classes", num_classes, 1), ("channels", channels, 1),
                                 ("cells_per_stage", cells_per_stage, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name}={value!r} is not allowed; use an integer >= {low}")
        self.arch = arch
        self.reference_compatible = reference_compatible
        if seed is None:
            self._build(edge_ops, num_classes, channels, cells_per_stage)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(seed))
                self._build(edge_ops, num_classes, channels, cells_per_stage)

    def _build(self, ops: tuple[str, ...], num_classes: int, channels: int, cells_per_stage: int) -> None:
        c = channels
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        layers: list[nn.Module] = []
        for stage in range(3):
            if stage > 0:
                layers.append(ReductionBlock(c, 2 * c))
                c *= 2
            layers.extend(Cell(ops, c, self.reference_compatible) for _ in range(cells_per_stage))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"a NAS-Bench-201 network takes inputs of shape (N, 3, H, W); got {tuple(x.shape)}")
        x = self.cells(self.stem(x))
        x = self.global_pooling(self.lastact(x))
        return self.classifier(x.flatten(1))
