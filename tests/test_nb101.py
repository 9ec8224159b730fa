"""The NAS-Bench-101 space: validity rules, pruning, the graph hash against brute-force isomorphism, the canonical
member, the string form, uniform sampling over classes and the one-edit neighbours."""

from __future__ import annotations

import itertools
import time
from collections import Counter, defaultdict

import networkx as nx
import numpy as np
import pytest
from scipy import stats

from zcnas.spaces import get_space, nb101

CONV3, CONV1, POOL = nb101.OPS


def generator_pairs(max_vertices: int):
    """Every (matrix, ops) the benchmark's generator visits, built here from its definition (not from nb101).

    Upper-triangular V x V 0/1 matrices with at most 9 edges in which every vertex but the output has an
    out-edge and every vertex but the input has an in-edge, times every labelling of the interior vertices.
    """
    for v in range(2, max_vertices + 1):
        spots = [(i, j) for j in range(v) for i in range(j)]
        for bits in itertools.product((0, 1), repeat=len(spots)):
            if sum(bits) > nb101.MAX_EDGES:
                continue
            m = np.zeros((v, v), dtype=int)
            for (i, j), b in zip(spots, bits):
                m[i, j] = b
            if not (m[: v - 1].sum(axis=1) > 0).all() or not (m[:, 1:].sum(axis=0) > 0).all():
                continue
            for labels in itertools.product(nb101.OPS, repeat=v - 2):
                yield m.tolist(), ["input", *labels, "output"]


def as_graph(matrix, ops) -> nx.DiGraph:
    g = nx.DiGraph()
    for k, op in enumerate(ops):
        g.add_node(k, op=op)
    for i, row in enumerate(matrix):
        for j, x in enumerate(row):
            if x:
                g.add_edge(i, j)
    return g


def invariant(g: nx.DiGraph):
    return (g.number_of_nodes(), g.number_of_edges(),
            tuple(sorted((g.nodes[n]["op"], g.in_degree(n), g.out_degree(n)) for n in g)))


def same(g: nx.DiGraph, h: nx.DiGraph) -> bool:
    return nx.is_isomorphic(g, h, node_match=lambda a, b: a["op"] == b["op"])


# --- the hash -------------------------------------------------------------------------------------------------

def test_hash_groups_are_the_isomorphism_classes_up_to_5_vertices():
    pairs = list(generator_pairs(5))
    assert len(pairs) == 1 + 6 + 90 + 3267
    groups: dict[str, list[nx.DiGraph]] = defaultdict(list)
    for matrix, ops in pairs:
        groups[nb101.graph_hash((matrix, ops))].append(as_graph(matrix, ops))
    assert len(groups) == 2532
    for members in groups.values():  # no false negatives: every member is isomorphic to the first
        assert all(same(members[0], g) for g in members[1:])
    by_invariant: dict[tuple, list[nx.DiGraph]] = defaultdict(list)
    for members in groups.values():
        by_invariant[invariant(members[0])].append(members[0])
    for reps in by_invariant.values():  # no false positives: representatives of two groups never isomorphic
        for g, h in itertools.combinations(reps, 2):
            assert not same(g, h)


def test_hash_equals_the_independent_nasbench_pytorch_port():
    graph_util = pytest.importorskip("nasbench_pytorch.model.graph_util")
    for matrix, ops in itertools.islice(generator_pairs(6), 0, None, 37):
        labels = [-1] + [nb101.OPS.index(op) for op in ops[1:-1]] + [-2]
        assert nb101.graph_hash((matrix, ops)) == graph_util.hash_module(np.array(matrix), labels)


def test_hash_is_invariant_under_relabelling_and_ignores_pruned_vertices():
    cell = nb101.from_string("31m33/111100-00001-0001-001-10-1")
    for perm in itertools.permutations(range(1, 6)):
        order = [0, *perm, 6]
        matrix = [[cell.matrix[a][b] for b in order] for a in order]
        if any(matrix[i][j] for i in range(7) for j in range(i + 1)):
            continue  # not upper-triangular in this order
        assert nb101.graph_hash((matrix, [cell.ops[a] for a in order])) == nb101.graph_hash(cell)
    dangling = nb101.from_matrix([[0, 1, 0, 1], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]],
                                 ["input", CONV3, POOL, "output"])  # vertex 2 has no input: pruned
    assert nb101.graph_hash(dangling) == nb101.graph_hash("3/11-1")


# --- the canonical member and the enumeration -----------------------------------------------------------------

def test_canonical_member_is_the_generator_first_member():
    assert list(nb101.hash_classes(5).values()) == list(nb101.enumerate_cells(5))


def test_canonical_member_of_the_notebook_cell_is_the_stored_one():
    # The official API's notebook (google-research/nasbench NASBench.ipynb) queries this Inception-like cell
    # and prints the stored module_adjacency / module_operations and trainable_parameters 2694282.
    query = nb101.from_matrix(
        [[0, 1, 1, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0, 0],
         [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]],
        ["input", CONV1, CONV3, CONV3, CONV3, POOL, "output"])
    stored = nb101.canonical(query)
    assert [list(r) for r in stored.matrix] == [
        [0, 1, 1, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]]
    assert stored.ops == ("input", CONV3, CONV1, POOL, CONV3, CONV3, "output")
    assert sum(p.numel() for p in nb101.build_model(query).parameters()) == 2694282


def test_enumeration_counts_and_string_round_trip_up_to_6_vertices():
    cells = list(nb101.enumerate_cells(6))
    assert len(cells) == len(set(cells)) == 64542
    assert Counter(c.num_vertices for c in cells) == {2: 1, 3: 6, 4: 84, 5: 2441, 6: 62010}
    for cell in cells[::50]:
        text = nb101.to_string(cell)
        assert nb101.from_string(text) == cell and nb101.canonical(cell) == cell
        assert nb101.from_string(text, canonicalize=False) == cell


@pytest.mark.slow
def test_full_space_has_423624_cells():
    start = time.perf_counter()
    assert sum(1 for _ in nb101.enumerate_cells()) == nb101.NUM_CELLS == 423_624
    print(f"enumerate_cells(): {time.perf_counter() - start:.1f} s")


@pytest.mark.slow
def test_full_space_by_the_benchmark_own_hashing():
    start = time.perf_counter()
    buckets = nb101.hash_classes(7)
    assert len(buckets) == 423_624
    assert list(buckets.values()) == list(nb101.enumerate_cells())
    print(f"hash_classes(7): {time.perf_counter() - start:.1f} s")


# --- validity rules and pruning -------------------------------------------------------------------------------

def chain(n_vertices: int) -> list[list[int]]:
    return [[1 if j == i + 1 else 0 for j in range(n_vertices)] for i in range(n_vertices)]


@pytest.mark.parametrize(
    "matrix, ops, message",
    [
        (chain(8), ["input"] + [CONV3] * 6 + ["output"], "rule 'at most 7 vertices' broken: 8 after pruning"),
        ([[0, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 0, 0], [0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 1, 0, 0],
          [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]],
         ["input"] + [CONV3] * 5 + ["output"], "rule 'at most 9 edges' broken: 13 after pruning"),
        ([[0, 1, 0], [0, 0, 0], [0, 0, 0]], ["input", CONV3, "output"], "rule 'path from input to output'"),
        ([[0, 1], [1, 0]], ["input", "output"], "rule 'upper-triangular' broken: edge 1->0"),
        ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "conv5x5", "output"], "unknown op 'conv5x5' at vertex 1"),
        ([[0, 1], [0, 0]], ["output", "input"], "first op must be 'input'"),
        ([[0, 1], [0, 0]], ["input", CONV3, "output"], "2 vertices but 3 ops"),
        ([[0, 2], [0, 0]], ["input", "output"], "entries must be 0 or 1"),
        ([[0, 1, 1]], ["input", "output"], "must be square"),
    ],
)
def test_each_rule_has_its_own_message(matrix, ops, message):
    with pytest.raises(ValueError, match=message):
        nb101.to_string((matrix, ops))
    assert not get_space("nb101").is_valid((matrix, ops))


def test_edge_rule_counts_edges_after_pruning():
    # 10 edges, but vertex 5 only feeds a dead end (vertex 6 -> nothing but 7): prune the dead branch first
    m = np.zeros((7, 7), dtype=int)
    for i, j in [(0, 1), (1, 2), (2, 6), (0, 2), (0, 3), (3, 4), (4, 5), (3, 5), (1, 3), (0, 6)]:
        m[i, j] = 1
    cell = nb101.from_matrix(m, ["input", CONV3, CONV1, POOL, CONV3, CONV1, "output"])
    assert len(cell.edges) == 10
    pruned = nb101.check(cell)
    assert pruned.ops == ("input", CONV3, CONV1, "output") and len(pruned.edges) == 5


def test_pruning_by_hand():
    # vertex 1 has no input (not reachable), vertex 3 leads nowhere but itself (no output): both go
    m = [[0, 0, 1, 1, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
    pruned = nb101.prune(nb101.from_matrix(m, ["input", POOL, CONV1, CONV3, "output"]))
    assert pruned.ops == ("input", CONV1, "output")
    assert pruned.matrix == ((0, 1, 0), (0, 0, 1), (0, 0, 0))


def test_string_errors_say_what_is_wrong():
    for text, why in [("3/10", "1 rows, not 2"), ("x/1", "unknown op letter 'x'"), ("31", "no '/'"),
                      ("3/12-1", "entries other than 0 and 1"), ("333333/1", "8 vertices")]:
        with pytest.raises(ValueError, match=why):
            nb101.from_string(text)
    with pytest.raises(ValueError, match="path from input to output"):
        nb101.from_string("3/10-0")


def test_parse_accepts_strings_and_json_objects():
    space = get_space("nb101")
    line = '{"matrix": [[0, 1, 1], [0, 0, 1], [0, 0, 0]], "ops": ["input", "maxpool3x3", "output"]}'
    assert space.parse(line) == "m/11-1" == space.parse(" m/11-1 ")
    with pytest.raises(ValueError, match="not valid JSON"):
        space.parse("{matrix")


# --- sampling -------------------------------------------------------------------------------------------------

def test_sampling_is_seeded_and_without_replacement():
    a = nb101.sample(50, np.random.default_rng(7))
    assert a == nb101.sample(50, np.random.default_rng(7)) and len(set(a)) == 50
    assert a != nb101.sample(50, np.random.default_rng(8))
    assert all(nb101.canonical(c) == c for c in a)
    small = nb101.sample(7, np.random.default_rng(0), max_vertices=3)
    assert sorted(map(nb101.to_string, small)) == sorted(map(nb101.to_string, nb101.enumerate_cells(3)))
    with pytest.raises(ValueError, match=r"allowed: 0..7 without replacement"):
        nb101.sample(8, np.random.default_rng(0), max_vertices=3)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        nb101.sample(1, 0)


def test_sampling_is_uniform_over_classes_not_over_matrices():
    # up to 4 vertices: 91 classes, 97 generator pairs, so drawing pairs (what one would do naively) is biased
    # towards the classes with several members; a chi-square test over 9100 draws tells the two apart
    classes = [nb101.to_string(c) for c in nb101.enumerate_cells(4)]
    draws = Counter(nb101.to_string(c) for c in nb101.sample(9100, np.random.default_rng(1), replace=True,
                                                             max_vertices=4))
    observed = np.array([draws[c] for c in classes])
    assert observed.sum() == 9100 and stats.chisquare(observed).pvalue > 1e-3
    sizes = np.array([nb101.orbit_size(c) for c in classes])
    assert sizes.sum() == 97 and sizes.max() == 2
    naive = np.random.default_rng(1).multinomial(9100, sizes / sizes.sum())
    assert stats.chisquare(naive).pvalue < 1e-3


# --- neighbours and the protocol ------------------------------------------------------------------------------

def test_neighbours_of_a_small_cell_by_hand():
    # input -> conv3x3 -> output: 2 op changes; adding input -> output; removing either edge breaks the path;
    # a new vertex (3 ops) wired 0 -> new -> 1, 0 -> new -> 2 or 1 -> new -> 2, existing edges kept
    written = ["1/10-1", "m/10-1", "3/11-1"]
    for op in "31m":
        written += [f"{op}3/110-10-1", f"{op}3/110-01-1", f"3{op}/100-11-1"]
    expected = [nb101.to_string(nb101.from_string(w, canonicalize=False)) for w in written]
    got = [nb101.to_string(c) for c in nb101.neighbours("3/10-1")]
    assert len(set(expected)) == 12
    assert sorted(got) == sorted(expected)


def test_neighbours_stay_in_the_space_and_mutate_is_seeded():
    rng = np.random.default_rng(3)
    for cell in nb101.sample(15, rng):
        options = nb101.neighbours(cell)
        assert options and cell not in options and len(set(options)) == len(options)
        assert all(nb101.canonical(other) == other for other in options)
        op_changes = [o for o in options if o.matrix == cell.matrix]
        assert len(op_changes) <= 2 * (cell.num_vertices - 2)
    space = get_space("nb101")
    start = nb101.from_string("31m33/111100-00001-0001-001-10-1")
    walk_a = [space.mutate(start, np.random.default_rng(5)) for _ in range(3)]
    walk_b = [space.mutate(start, np.random.default_rng(5)) for _ in range(3)]
    assert walk_a == walk_b and all(w in nb101.neighbours(start) for w in walk_a)


def test_protocol_isomorphic_cells_are_one_cell_with_one_key():
    space = get_space("nb101")
    a = nb101.from_matrix([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], ["input", POOL, CONV3, "output"])
    b = nb101.from_matrix([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], ["input", CONV3, POOL, "output"])
    c = nb101.from_matrix([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], ["input", CONV3, CONV1, "output"])
    assert space.encode(a) == space.encode(b) == "3m/110-01-1" != space.encode(c)
    assert space.dedup_key(a) == space.dedup_key(b) == nb101.graph_hash(a) != space.dedup_key(c)
    assert space.size_key(a) == space.dedup_key(a)
    assert space.decode(space.encode(a)) == nb101.canonical(b)
    assert space.size == 423_624 and space.input_shape == (3, 32, 32) and space.datasets == {"cifar10": 10}
    assert space.check_options({"stem_channels": 16}) == {"stem_channels": 16, "num_stacks": 3, "cells_per_stack": 3}
    with pytest.raises(ValueError, match="num_stacks=0 is not allowed"):
        space.check_options({"num_stacks": 0})
    with pytest.raises(ValueError, match="is a str, not int"):
        space.decode(3)
