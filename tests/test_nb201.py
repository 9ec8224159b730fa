"""The NAS-Bench-201 space: codec, canonical form, sampling, neighbours and the model builder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zcnas.layer_marks import keeps_batchnorm
from zcnas.proxies.size import count_flops, count_parameters
from zcnas.spaces import nb201

BEST_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_constants():
    assert nb201.OPS == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    assert nb201.EDGES == ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
    assert nb201.NUM_ARCHS == 15625


def test_codec_round_trip_for_every_cell():
    archs = nb201.all_archs()
    assert len(archs) == len(set(archs)) == 15625
    for i, arch in enumerate(archs):
        ops = nb201.ops_of(arch)
        assert nb201.arch_from_ops(ops) == arch
        assert nb201.enumeration_index(arch) == i
        assert nb201.arch_at_enumeration(i) == arch
    assert archs[0] == "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    assert nb201.ops_of(BEST_C10) == (3, 3, 3, 1, 3, 3)


@pytest.mark.parametrize(
    "bad, message",
    [
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|", "2 node groups, not 3"),
        ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv'"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "should read 'op~0'"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 lists 1 inputs, not 2"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "not wrapped"),
    ],
)
def test_malformed_strings(bad, message):
    assert not nb201.is_valid(bad)
    with pytest.raises(ValueError, match=message):
        nb201.ops_of(bad)


def test_bad_ops_and_indices():
    with pytest.raises(ValueError, match=r"6 integers in 0..4"):
        nb201.ops_of((0, 1, 2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"6 integers"):
        nb201.ops_of((0, 1))
    with pytest.raises(ValueError, match=r"out of range 0..15624"):
        nb201.arch_at_enumeration(15625)
    with pytest.raises(ValueError, match=r"out of range"):
        nb201.arch_at_enumeration(-1)
    assert not nb201.is_valid(None)
    with pytest.raises(ValueError, match="not a NAS-Bench-201 architecture string"):
        nb201.build_model("garbage")


def test_canonical_benchmark_rule_gives_6466_classes():
    archs = nb201.all_archs()
    assert len({nb201.canonical(a) for a in archs}) == nb201.NUM_UNIQUE_BENCHMARK == 6466
    functional = {nb201.canonical(a, rule="functional") for a in archs}
    assert len(functional) == 5390  # zero nodes propagate, so more cells merge


def test_canonical_hand_cases():
    # skip then conv equals conv directly; the order of summed terms does not matter
    a = "|skip_connect~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|"
    b = "|none~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|skip_connect~2|"
    assert nb201.canonical(a) == nb201.canonical(b)
    c = "|nor_conv_1x1~0|+|none~0|none~1|+|nor_conv_3x3~0|skip_connect~1|none~2|"
    d = "|nor_conv_3x3~0|+|none~0|none~1|+|nor_conv_1x1~0|skip_connect~1|none~2|"
    assert nb201.canonical(c) == nb201.canonical(d)
    assert nb201.canonical(c) != nb201.canonical(a)
    # the benchmark's quirk: a node fed only by zeros ('#+#') is not zero downstream
    e = "|none~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"
    f = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    assert nb201.canonical(e) != nb201.canonical(f)
    assert nb201.canonical(e, rule="functional") == nb201.canonical(f, rule="functional")
    with pytest.raises(ValueError, match="canonical rule 'x'"):
        nb201.canonical(e, rule="x")


def test_neighbours():
    ns = nb201.neighbours(BEST_C10)
    assert len(ns) == len(set(ns)) == 24
    base = nb201.ops_of(BEST_C10)
    for n in ns:
        assert sum(a != b for a, b in zip(base, nb201.ops_of(n))) == 1
        assert BEST_C10 in nb201.neighbours(n)


def test_sample_is_seeded_and_without_replacement():
    a = nb201.sample(500, np.random.default_rng(7))
    b = nb201.sample(500, np.random.default_rng(7))
    c = nb201.sample(500, np.random.default_rng(8))
    assert a == b and a != c
    assert len(set(a)) == 500
    assert len(nb201.sample(30, np.random.default_rng(0), replace=True)) == 30
    with pytest.raises(ValueError, match="cannot sample 15626"):
        nb201.sample(15626, np.random.default_rng(0))
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        nb201.sample(3, 0)


def test_benchmark_network_size():
    net = nb201.build_model(nb201.arch_from_ops((3,) * 6), num_classes=10)
    assert count_parameters(net) == 1_531_546
    macs = count_flops(net, (3, 32, 32)) / 2
    assert round(macs / 1e6, 1) == 220.1


def test_only_chosen_ops_are_built():
    empty = nb201.build_model(nb201.arch_from_ops((0,) * 6))
    conv = nb201.build_model(nb201.arch_from_ops((3, 0, 0, 0, 0, 0)))
    # one 3x3 conv (+ BN affine) per cell at C, 2C, 4C with 5 cells each
    per_cell = sum(9 * c * c + 2 * c for c in (16, 32, 64)) * 5
    assert count_parameters(conv) - count_parameters(empty) == per_cell


def test_reference_compatible_cell_variant():
    ref = nb201.build_model(BEST_C10, reference_compatible=True)
    cell_bn = ref.cells[0].edges[0][2]
    assert not cell_bn.affine and not cell_bn.track_running_stats
    assert ref.cells[0].edges[0][1].bias is not None
    faithful = nb201.build_model(BEST_C10)
    assert faithful.cells[0].edges[0][2].affine and faithful.cells[0].edges[0][1].bias is None
    flagged = [m for m in faithful.modules() if keeps_batchnorm(m)]
    assert len(flagged) == 4  # two BatchNorms in each of the two reduction blocks


def test_build_is_seeded_and_forward_shapes():
    a = nb201.build_model(BEST_C10, num_classes=100, seed=3)
    b = nb201.build_model(BEST_C10, num_classes=100, seed=3)
    c = nb201.build_model(BEST_C10, num_classes=100, seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.classifier.weight, c.classifier.weight)
    assert a(torch.randn(2, 3, 32, 32)).shape == (2, 100)
    assert nb201.build_model(BEST_C10, channels=4, cells_per_stage=1)(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    with pytest.raises(ValueError, match=r"num_classes=0 is not allowed"):
        nb201.build_model(BEST_C10, num_classes=0)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        a(torch.randn(2, 1, 32, 32))


def test_dedup_key_cells_share_size():
    rng = np.random.default_rng(0)
    by_key: dict[str, list[str]] = {}
    for arch in nb201.all_archs():
        by_key.setdefault(nb201.dedup_key(arch), []).append(arch)
    groups = [g for g in by_key.values() if len(g) > 1]
    for idx in rng.choice(len(groups), 5, replace=False):
        sizes = {count_parameters(nb201.build_model(a, channels=4, cells_per_stage=1)) for a in groups[idx]}
        assert len(sizes) == 1
