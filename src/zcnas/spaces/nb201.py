"""NAS-Bench-201: op names, edge order, the string/ops codec, canonical form, sampling, neighbours, models.

A cell has 4 nodes; node j sums one op applied to every earlier node. The 6 edges, in the benchmark's string
order, are (0→1), (0→2), (1→2), (0→3), (1→3), (2→3); each carries one of 5 ops, so there are 5**6 = 15,625
cells. An architecture is its string, e.g. ``|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|
nor_conv_3x3~1|skip_connect~2|``, or its op indices in edge order (``OPS`` order: none=0, skip_connect=1,
nor_conv_1x1=2, nor_conv_3x3=3, avg_pool_3x3=4, the reference notebook's encoding).

Our enumeration order (``all_archs``) reads the op indices as a base-5 number, first edge most significant.
The benchmark's own index is a different, shuffled order that only its data defines: see
``zcnas.benchmarks``.

Example:
    >>> from zcnas.spaces import nb201
    >>> arch = nb201.arch_from_ops((3, 3, 3, 1, 3, 3))
    >>> arch
    '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'
    >>> nb201.ops_of(arch)
    (3, 3, 3, 1, 3, 3)
    >>> len(nb201.neighbours(arch))
    24
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any, Sequence, Union

import numpy as np
from torch import nn

from zcnas.spaces.base import ModelOption, SearchSpace, register_space
from zcnas.spaces.nb201_model import CELL_EDGES, CELL_OPS, NB201Network

OPS: tuple[str, ...] = CELL_OPS
EDGES: tuple[tuple[int, int], ...] = CELL_EDGES
NUM_EDGES = len(EDGES)
NUM_OPS = len(OPS)
NUM_ARCHS = NUM_OPS**NUM_EDGES  # 15,625
#: Canonical classes under the benchmark's rule (``canonical(rule="benchmark")``).
NUM_UNIQUE_BENCHMARK = 6466

Arch = Union[str, Sequence[int]]


def _edge_error(arch: str, why: str) -> ValueError:
    return ValueError(
        f"{arch!r} is not a NAS-Bench-201 architecture string ({why}); expected "
        "'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' with op in " + ", ".join(OPS)
    )


def ops_of(arch: Arch) -> tuple[int, ...]:
    """The 6 op indices (edge order) of an architecture string or op sequence; bad input raises ValueError."""
    if isinstance(arch, str):
        nodes = arch.split("+")
        if len(nodes) != 3:
            raise _edge_error(arch, f"it has {len(nodes)} node groups, not 3")
        result: list[int] = []
        for j, node in enumerate(nodes, start=1):
            if not (node.startswith("|") and node.endswith("|")) or len(node) < 2:
                raise _edge_error(arch, f"node group {node!r} is not wrapped in '|'")
            edges = node[1:-1].split("|")
            if len(edges) != j:
                raise _edge_error(arch, f"node {j} lists {len(edges)} inputs, not {j}")
            for i, edge in enumerate(edges):
                op, sep, src = edge.partition("~")
                if not sep or src != str(i):
                    raise _edge_error(arch, f"edge {edge!r} of node {j} should read 'op~{i}'")
                if op not in OPS:
                    raise _edge_error(arch, f"unknown op {op!r}")
                result.append(OPS.index(op))
        return tuple(result)
    try:
        ops = tuple(int(v) for v in arch)
    except (TypeError, ValueError):
        raise ValueError(
            f"an architecture must be a string or a sequence of {NUM_EDGES} op indices; got {arch!r}"
        ) from None
    if len(ops) != NUM_EDGES or any(not 0 <= v < NUM_OPS for v in ops):
        raise ValueError(f"op indices {list(ops)} must be {NUM_EDGES} integers in 0..{NUM_OPS - 1} ({', '.join(OPS)})")
    return ops


def arch_from_ops(ops: Sequence[int]) -> str:
    """The architecture string of 6 op indices in edge order."""
    ops = ops_of(ops)
    nodes = []
    k = 0
    for j in range(1, 4):
        edges = []
        for i in range(j):
            edges.append(f"{OPS[ops[k]]}~{i}")
            k += 1
        nodes.append("|" + "|".join(edges) + "|")
    return "+".join(nodes)


def to_string(arch: Arch) -> str:
    """The canonical string spelling of an architecture given as a string or as op indices (validated)."""
    return arch_from_ops(ops_of(arch))


def is_valid(arch: object) -> bool:
    """True when ``arch`` is a well-formed NAS-Bench-201 architecture (string or op indices)."""
    try:
        ops_of(arch)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return False
    return True


def enumeration_index(arch: Arch) -> int:
    """Position of ``arch`` in ``all_archs()`` (base-5 number of its op indices, first edge most significant)."""
    index = 0
    for op in ops_of(arch):
        index = index * NUM_OPS + op
    return index


def arch_at_enumeration(index: int) -> str:
    """The architecture at position ``index`` of ``all_archs()``; out of range raises ValueError."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < NUM_ARCHS:
        raise ValueError(f"enumeration index {index!r} is out of range 0..{NUM_ARCHS - 1}")
    digits = []
    value = int(index)
    for _ in range(NUM_EDGES):
        digits.append(value % NUM_OPS)
        value //= NUM_OPS
    return arch_from_ops(digits[::-1])


@lru_cache(maxsize=1)
def _all_archs() -> tuple[str, ...]:
    return tuple(arch_at_enumeration(i) for i in range(NUM_ARCHS))


def all_archs() -> list[str]:
    """All 15,625 architecture strings in our enumeration order."""
    return list(_all_archs())


def sample(n: int, rng: np.random.Generator, replace: bool = False) -> list[str]:
    """``n`` architectures drawn uniformly with ``rng``; without replacement unless ``replace``.

    Example:
        >>> import numpy as np
        >>> from zcnas.spaces import nb201
        >>> nb201.sample(2, np.random.default_rng(0)) == nb201.sample(2, np.random.default_rng(0))
        True
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator, e.g. numpy.random.default_rng(seed)")
    if n < 0 or (not replace and n > NUM_ARCHS):
        raise ValueError(f"cannot sample {n} architectures; allowed: 0..{NUM_ARCHS} without replacement")
    indices = rng.choice(NUM_ARCHS, size=n, replace=replace)
    archs = _all_archs()
    return [archs[int(i)] for i in indices]


def neighbours(arch: Arch) -> list[str]:
    """The 24 architectures one edit away (one edge changed to another op), edge-major, in ``OPS`` order."""
    ops = list(ops_of(arch))
    result = []
    for edge in range(NUM_EDGES):
        for op in range(NUM_OPS):
            if op != ops[edge]:
                changed = ops.copy()
                changed[edge] = op
                result.append(arch_from_ops(changed))
    return result


def canonical(arch: Arch, rule: str = "benchmark") -> str:
    """A key shared by cells that compute the same function (their isomorphism class).

    ``rule="benchmark"`` is NAS-Bench-201's own rule (6,466 classes over the space): node 0 is ``0``; node j
    gets one term per incoming edge — ``#`` when the op is ``none`` or the source label is exactly ``#``, the
    source label when the op is ``skip_connect``, else ``(source)@op`` — and its label is the sorted terms joined
    by ``+``; the key is node 3's label. Its quirk: a node whose inputs are all zero (``#+#``) is not treated as
    zero downstream. ``rule="functional"`` drops zero terms and marks a node zero when nothing is left, which
    merges those cells too (a coarser partition).

    Note that a cell's key ignores ops that do not reach the output, so cells of one class can differ in
    parameter count and FLOPs (a dangling convolution still has weights).

    Example:
        >>> from zcnas.spaces import nb201
        >>> a = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|"
        >>> b = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|skip_connect~2|"
        >>> nb201.canonical(a) == nb201.canonical(b)
        True
    """
    if rule not in ("benchmark", "functional"):
        raise ValueError(f"canonical rule {rule!r} is not allowed; use 'benchmark' or 'functional'")
    ops = ops_of(arch)
    labels = ["0"]
    k = 0
    for j in range(1, 4):
        terms = []
        for i in range(j):
            op = OPS[ops[k]]
            k += 1
            source = labels[i]
            if op == "none" or source == "#":
                if rule == "benchmark":
                    terms.append("#")
            elif op == "skip_connect":
                terms.append(source)
            else:
                terms.append(f"({source})@{op}")
        if not terms:
            labels.append("#")
        else:
            labels.append("+".join(sorted(terms)))
    return labels[3]


def op_counts(arch: Arch) -> tuple[int, ...]:
    """How many edges carry each op, in ``OPS`` order (parameters and FLOPs depend only on these)."""
    ops = ops_of(arch)
    return tuple(ops.count(i) for i in range(NUM_OPS))


def size_key(arch: Arch) -> str:
    """The key under which size-only proxies (params, flops) may be shared: the op counts.

    Every cell op runs at its stage's resolution and width, so parameters and FLOPs depend only on how many
    edges carry each op.
    """
    return ",".join(map(str, op_counts(arch)))


def dedup_key(arch: Arch) -> str:
    """The key under which data-free scores (synflow, params, flops) may be shared between cells.

    The benchmark's canonical class alone would merge cells whose dangling ops differ in parameters and
    FLOPs; adding the op counts keeps only cells that also have the same weights to count.
    """
    return canonical(arch) + "|" + size_key(arch)


def build_model(
    arch: Arch,
    num_classes: int = 10,
    channels: int = 16,
    cells_per_stage: int = 5,
    *,
    reference_compatible: bool = False,
    seed: int | None = None,
):
    """The NAS-Bench-201 network of ``arch`` (see ``zcnas.spaces.nb201_model.NB201Network``).

    Example:
        >>> from zcnas.spaces import nb201
        >>> net = nb201.build_model(nb201.arch_from_ops((3,) * 6), num_classes=10, seed=0)
        >>> sum(p.numel() for p in net.parameters())
        1531546
    """
    text = to_string(arch)
    return NB201Network(
        tuple(OPS[i] for i in ops_of(text)),
        num_classes=num_classes,
        channels=channels,
        cells_per_stage=cells_per_stage,
        reference_compatible=reference_compatible,
        seed=seed,
        arch=text,
    )


@register_space
class NB201Space(SearchSpace):
    """NAS-Bench-201 through the ``SearchSpace`` protocol; cells are architecture strings.

    Example:
        >>> import numpy as np
        >>> from zcnas.spaces import get_space
        >>> space = get_space("nb201")
        >>> cell = space.sample(1, np.random.default_rng(0))[0]
        >>> space.decode(space.encode(cell)) == cell, len(space.neighbours(cell))
        (True, 24)
    """

    name = "nb201"
    description = "NAS-Bench-201: 4-node cells, 5 ops on 6 edges, 15,625 cells (Dong & Yang, ICLR 2020)"
    input_shape = (3, 32, 32)
    datasets = {"cifar10": 10, "cifar100": 100, "imagenet16": 120}
    model_options = (
        ModelOption("channels", int, 16, "stem channels C; stages run at C, 2C, 4C (benchmark: 16)", minimum=1),
        ModelOption("cells_per_stage", int, 5, "cells per stage (benchmark: 5)", minimum=1),
        ModelOption("reference_compatible", bool, False,
                    "the zero-cost reference's cell: non-affine BN without running statistics, conv bias"),
    )
    benchmark = "nb201"

    def encode(self, cell: Arch) -> str:
        return to_string(cell)

    def decode(self, text: str) -> str:
        if not isinstance(text, str):
            raise ValueError(f"a NAS-Bench-201 cell string is a str, not {type(text).__name__}")
        return to_string(text)

    @property
    def size(self) -> int:
        return NUM_ARCHS

    def cells(self) -> Iterator[str]:
        return iter(_all_archs())

    def sample(self, n: int, rng: np.random.Generator, replace: bool = False) -> list[str]:
        return sample(n, rng, replace=replace)

    def neighbours(self, cell: Arch) -> list[str]:
        return neighbours(cell)

    def dedup_key(self, cell: Arch) -> str:
        return dedup_key(cell)

    def size_key(self, cell: Arch) -> str:
        return size_key(cell)

    def build_model(self, cell: Arch, num_classes: int, *, seed: int | None = None, **options: Any) -> nn.Module:
        return build_model(cell, num_classes=num_classes, seed=seed, **self.check_options(options))
