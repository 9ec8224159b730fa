"""NAS-Bench-101: op names, validity rules, pruning, the benchmark's graph hash, canonical form, codec, sampling.

A cell is a DAG of at most 7 vertices (input, up to 5 op vertices, output) and at most 9 edges, given as an
upper-triangular 0/1 adjacency matrix plus one op per vertex: ``input``, then ``conv3x3-bn-relu``,
``conv1x1-bn-relu`` or ``maxpool3x3`` for each interior vertex, then ``output``. Vertices that lie on no
input-output path are pruned first (as the benchmark's ``ModelSpec`` does); the rules apply to the pruned cell.

Isomorphic cells are one cell of the benchmark (423,624 of them). ``canonical`` picks the member the benchmark
itself stores and trained: among the cell's vertex orders that keep the matrix upper-triangular, the one with the
smallest edge bit mask (edge (i, j) is bit ``i + j*(j-1)/2``) and then the smallest op labels, the first one its
generator meets. ``encode`` writes the canonical member, so isomorphic cells share one string (and one row in
score tables and benchmark tables); ``graph_hash`` is the benchmark's own MD5 key of a cell (the key of the
official data file).

String form: the interior ops as letters (``3`` = conv3x3-bn-relu, ``1`` = conv1x1-bn-relu, ``m`` = maxpool3x3),
``/``, then the upper triangle of the matrix row by row (row i lists columns i+1..V-1), rows joined by ``-``.
``"/1"`` is input wired straight to output; ``"3/10-1"`` is input -> conv3x3 -> output.

Example:
    >>> from zcnas.spaces import nb101
    >>> cell = nb101.from_matrix([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]],
    ...                          ["input", "maxpool3x3", "conv3x3-bn-relu", "output"])
    >>> nb101.to_string(cell)
    '3m/110-01-1'
    >>> nb101.graph_hash(cell) == nb101.graph_hash(nb101.from_string("m3/110-01-1"))
    True
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Union

import numpy as np
from torch import nn

from zcnas.spaces.base import ModelOption, SearchSpace, register_space
from zcnas.spaces.nb101_model import CONV1X1, CONV3X3, MAXPOOL3X3, NB101Network

INPUT = "input"
OUTPUT = "output"
#: The interior ops, in the benchmark's label order (``config['available_ops']``: labels 0, 1, 2).
OPS: tuple[str, ...] = (CONV3X3, CONV1X1, MAXPOOL3X3)
#: One letter per interior op in the string form.
OP_LETTERS: dict[str, str] = {CONV3X3: "3", CONV1X1: "1", MAXPOOL3X3: "m"}
_LETTER_OPS = {v: k for k, v in OP_LETTERS.items()}
MAX_VERTICES = 7
MAX_EDGES = 9
#: Unique cells of the space (the benchmark's count; ``enumerate_cells()`` yields exactly these).
NUM_CELLS = 423_624


@dataclass(frozen=True)
class NB101Cell:
    """A cell: ``matrix`` (V x V, 0/1, upper-triangular) and ``ops`` (V names, ``input`` ... ``output``).

    Built by ``from_matrix`` (which checks its form); ``prune`` / ``canonical`` give the benchmark's cell.
    """

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]

    @property
    def num_vertices(self) -> int:
        return len(self.ops)

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """The edges (i, j), i < j, in row order."""
        v = len(self.ops)
        return tuple((i, j) for i in range(v) for j in range(i + 1, v) if self.matrix[i][j])

    @property
    def labels(self) -> tuple[int, ...]:
        """The benchmark's vertex labels: -1 input, -2 output, the ``OPS`` index for interior vertices."""
        return (-1,) + tuple(OPS.index(op) for op in self.ops[1:-1]) + (-2,)

    def as_dict(self) -> dict[str, list]:
        """``{"matrix": [[...]], "ops": [...]}`` (the JSON layout of the data files)."""
        return {"matrix": [list(r) for r in self.matrix], "ops": list(self.ops)}


CellLike = Union[NB101Cell, str, Mapping[str, Any], Sequence[Any]]


def _rule(message: str) -> ValueError:
    return ValueError(f"not a NAS-Bench-101 cell: {message}")


def from_matrix(matrix: Any, ops: Sequence[str]) -> NB101Cell:
    """A cell from an adjacency matrix and op names, its form checked (square 0/1, upper-triangular, op names).

    The cell is not pruned; ``prune`` / ``check`` apply the path, vertex and edge rules.

    Example:
        >>> from_matrix([[0, 1], [0, 0]], ["input", "output"]).edges
        ((0, 1),)
        >>> from_matrix([[0, 1], [1, 0]], ["input", "output"])
        Traceback (most recent call last):
        ...
        ValueError: not a NAS-Bench-101 cell: rule 'upper-triangular' broken: edge 1->0 does not go from a lower to a higher vertex
    """
    try:
        arr = np.asarray(matrix)
    except (TypeError, ValueError):
        raise _rule(f"the matrix {matrix!r} is not a square 0/1 array") from None
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] < 2:
        raise _rule(f"the matrix must be square with at least 2 rows; got shape {arr.shape}")
    if arr.dtype == object or not np.isin(arr, (0, 1)).all():
        raise _rule("the matrix entries must be 0 or 1")
    if isinstance(ops, str) or not isinstance(ops, Sequence):
        raise _rule(f"ops must be a list of op names; got {ops!r}")
    ops = tuple(ops)
    v = arr.shape[0]
    if len(ops) != v:
        raise _rule(f"the matrix has {v} vertices but {len(ops)} ops are given")
    low = np.argwhere(np.tril(arr) != 0)
    if len(low):
        i, j = (int(x) for x in low[0])
        raise _rule(f"rule 'upper-triangular' broken: edge {i}->{j} does not go from a lower to a higher vertex")
    if ops[0] != INPUT or ops[-1] != OUTPUT:
        raise _rule(f"the first op must be 'input' and the last 'output'; got {ops[0]!r} ... {ops[-1]!r}")
    for k, op in enumerate(ops[1:-1], start=1):
        if op not in OPS:
            raise _rule(f"unknown op {op!r} at vertex {k}; allowed: {', '.join(OPS)}")
    return NB101Cell(tuple(tuple(int(x) for x in row) for row in arr), ops)


def _from_edges(v: int, edges: Sequence[tuple[int, int]], ops: Sequence[str]) -> NB101Cell:
    rows = [[0] * v for _ in range(v)]
    for i, j in edges:
        rows[i][j] = 1
    return NB101Cell(tuple(tuple(r) for r in rows), tuple(ops))


def prune(cell: NB101Cell) -> NB101Cell:
    """The cell without the vertices that lie on no input-output path (their edges go too), order kept.

    Raises ValueError (rule 'path from input to output') when no such path exists.

    Example:
        >>> c = from_matrix([[0, 1, 0], [0, 0, 0], [0, 0, 0]], ["input", "maxpool3x3", "output"])
        >>> prune(c)
        Traceback (most recent call last):
        ...
        ValueError: not a NAS-Bench-101 cell: rule 'path from input to output' broken: no path joins them
    """
    v = cell.num_vertices
    edges = cell.edges
    forward = {0}
    for i, j in edges:  # row order is a topological order of the sources
        if i in forward:
            forward.add(j)
    backward = {v - 1}
    for i, j in sorted(edges, key=lambda e: -e[1]):
        if j in backward:
            backward.add(i)
    keep = sorted(forward & backward)
    if 0 not in keep or v - 1 not in keep:
        raise _rule("rule 'path from input to output' broken: no path joins them")
    if len(keep) == v:
        return cell
    new = {old: k for k, old in enumerate(keep)}
    kept_edges = [(new[i], new[j]) for i, j in edges if i in new and j in new]
    return _from_edges(len(keep), kept_edges, [cell.ops[k] for k in keep])


def check(cell: NB101Cell) -> NB101Cell:
    """The pruned cell, or ValueError naming the broken rule (path, at most 7 vertices, at most 9 edges)."""
    pruned = prune(cell)
    if pruned.num_vertices > MAX_VERTICES:
        raise _rule(f"rule 'at most {MAX_VERTICES} vertices' broken: {pruned.num_vertices} after pruning")
    n_edges = len(pruned.edges)
    if n_edges > MAX_EDGES:
        raise _rule(f"rule 'at most {MAX_EDGES} edges' broken: {n_edges} after pruning")
    return pruned


def _edge_bit(i: int, j: int) -> int:
    return 1 << (i + j * (j - 1) // 2)


def _orbit(v: int, edges: Sequence[tuple[int, int]], labels: Sequence[int]) -> set[tuple[int, tuple[int, ...]]]:
    """Every (edge bit mask, labels) of the vertex orders that fix input/output and keep edges going forward."""
    found = set()
    interior = range(1, v - 1)
    for perm in itertools.permutations(interior):
        pos = [0] * v
        pos[v - 1] = v - 1
        for new, old in enumerate(perm, start=1):
            pos[old] = new
        bits = 0
        for i, j in edges:
            a, b = pos[i], pos[j]
            if a >= b:
                break
            bits |= _edge_bit(a, b)
        else:
            new_labels = [0] * v
            for old in range(v):
                new_labels[pos[old]] = labels[old]
            found.add((bits, tuple(new_labels)))
    return found


def _cell_from_code(v: int, bits: int, labels: Sequence[int]) -> NB101Cell:
    edges = [(i, j) for j in range(v) for i in range(j) if bits & _edge_bit(i, j)]
    ops = [INPUT] + [OPS[lab] for lab in labels[1:-1]] + [OUTPUT]
    return _from_edges(v, edges, ops)


def as_cell(cell: CellLike) -> NB101Cell:
    """Any accepted form (``NB101Cell``, string, ``{"matrix", "ops"}`` mapping, ``(matrix, ops)`` pair) as a cell.

    Not pruned or canonicalised.
    """
    if isinstance(cell, NB101Cell):
        return from_matrix(cell.matrix, cell.ops)
    if isinstance(cell, str):
        return from_string(cell, canonicalize=False)
    if isinstance(cell, Mapping):
        if "matrix" not in cell or "ops" not in cell:
            raise _rule(f"a mapping needs the keys 'matrix' and 'ops'; got {sorted(cell)}")
        return from_matrix(cell["matrix"], cell["ops"])
    if isinstance(cell, Sequence) and len(cell) == 2:
        return from_matrix(cell[0], cell[1])
    raise _rule(f"expected a cell string, a (matrix, ops) pair or a {{'matrix', 'ops'}} mapping; got {cell!r}")


def canonical(cell: CellLike) -> NB101Cell:
    """The benchmark's member of the cell's isomorphism class: pruned, checked, vertices in the stored order.

    Example:
        >>> a = from_matrix([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]],
        ...                 ["input", "maxpool3x3", "conv3x3-bn-relu", "output"])
        >>> canonical(a).ops
        ('input', 'conv3x3-bn-relu', 'maxpool3x3', 'output')
    """
    pruned = check(as_cell(cell))
    v = pruned.num_vertices
    bits, labels = min(_orbit(v, pruned.edges, pruned.labels))
    return _cell_from_code(v, bits, labels)


def orbit_size(cell: CellLike) -> int:
    """How many (matrix, ops) pairs of the benchmark's generator represent this cell (1 to 120)."""
    pruned = check(as_cell(cell))
    return len(_orbit(pruned.num_vertices, pruned.edges, pruned.labels))


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def _hash_code(v: int, edges: Sequence[tuple[int, int]], labels: Sequence[int]) -> str:
    ins: list[list[int]] = [[] for _ in range(v)]
    outs: list[list[int]] = [[] for _ in range(v)]
    for i, j in edges:
        outs[i].append(j)
        ins[j].append(i)
    hashes = [_md5(str((len(outs[k]), len(ins[k]), int(labels[k])))) for k in range(v)]
    for _ in range(v):
        hashes = [
            _md5("".join(sorted(hashes[w] for w in ins[k])) + "|" + "".join(sorted(hashes[w] for w in outs[k]))
                 + "|" + hashes[k])
            for k in range(v)
        ]
    return _md5(str(sorted(hashes)))


def graph_hash(cell: CellLike) -> str:
    """The benchmark's MD5 graph hash of the pruned cell (the key of the official data file).

    Each vertex starts from the MD5 of ``str((out-degree, in-degree, label))``; V times, every vertex becomes the
    MD5 of its in-neighbours' sorted hashes, ``|``, its out-neighbours' sorted hashes, ``|``, its own hash; the
    cell's hash is the MD5 of ``str()`` of the sorted vertex hashes. Equal for isomorphic cells.

    Example:
        >>> graph_hash("/1")
        '043721b9c7fe8c5fad811d47d83132ec'
    """
    pruned = check(as_cell(cell))
    return _hash_code(pruned.num_vertices, pruned.edges, pruned.labels)


# ---------------------------------------------------------------------- string form


def to_string(cell: CellLike, *, canonicalize: bool = True) -> str:
    """The string form of the cell (of its canonical member unless ``canonicalize=False``; pruned either way)."""
    c = canonical(cell) if canonicalize else check(as_cell(cell))
    v = c.num_vertices
    letters = "".join(OP_LETTERS[op] for op in c.ops[1:-1])
    rows = ["".join(str(c.matrix[i][j]) for j in range(i + 1, v)) for i in range(v - 1)]
    return letters + "/" + "-".join(rows)


def from_string(text: str, *, canonicalize: bool = True) -> NB101Cell:
    """The cell of a string made by ``to_string`` (its canonical member unless ``canonicalize=False``).

    Example:
        >>> from_string("3/10-1").ops
        ('input', 'conv3x3-bn-relu', 'output')
        >>> from_string("3/1-1")
        Traceback (most recent call last):
        ...
        ValueError: '3/1-1' is not a NAS-Bench-101 cell string: row 0 has 1 entries, not 2; expected interior op letters (3, 1, m), '/', then the upper-triangle rows of 0/1 joined by '-', e.g. '3/10-1'
    """
    if not isinstance(text, str):
        raise _rule(f"a cell string is a str, not {type(text).__name__}")

    def bad(why: str) -> ValueError:
        return ValueError(f"{text!r} is not a NAS-Bench-101 cell string: {why}; expected interior op letters "
                          "(3, 1, m), '/', then the upper-triangle rows of 0/1 joined by '-', e.g. '3/10-1'")

    letters, sep, rows_text = text.strip().partition("/")
    if not sep:
        raise bad("no '/'")
    unknown = [ch for ch in letters if ch not in _LETTER_OPS]
    if unknown:
        raise bad(f"unknown op letter {unknown[0]!r}")
    v = len(letters) + 2
    if v > MAX_VERTICES:
        raise bad(f"{v} vertices (at most {MAX_VERTICES})")
    rows = rows_text.split("-")
    if len(rows) != v - 1:
        raise bad(f"{len(rows)} rows, not {v - 1}")
    matrix = [[0] * v for _ in range(v)]
    for i, row in enumerate(rows):
        if len(row) != v - 1 - i:
            raise bad(f"row {i} has {len(row)} entries, not {v - 1 - i}")
        if any(ch not in "01" for ch in row):
            raise bad(f"row {i} has entries other than 0 and 1")
        for k, ch in enumerate(row):
            matrix[i][i + 1 + k] = int(ch)
    cell = from_matrix(matrix, [INPUT] + [_LETTER_OPS[ch] for ch in letters] + [OUTPUT])
    return canonical(cell) if canonicalize else cell


def parse(text: str) -> str:
    """A user's line as the canonical string: a cell string, or a JSON ``{"matrix": ..., "ops": ...}`` object."""
    line = text.strip()
    if line.startswith("{"):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{line[:60]!r} is not valid JSON ({exc.msg})") from None
        return to_string(obj)
    return to_string(line)


# ---------------------------------------------------------------------- enumeration and sampling


@lru_cache(maxsize=None)
def _matrix_codes(v: int) -> np.ndarray:
    """Edge bit masks (ascending) of the V-vertex matrices the benchmark's generator keeps.

    Kept: every vertex but the output has an out-edge and every vertex but the input an in-edge (nothing to
    prune), and at most 9 edges.
    """
    n = v * (v - 1) // 2
    codes = np.arange(1 << n, dtype=np.int64)
    counts = np.zeros_like(codes)
    for k in range(n):
        counts += (codes >> k) & 1
    keep = counts <= MAX_EDGES
    for i in range(v - 1):
        row = sum(_edge_bit(i, j) for j in range(i + 1, v))
        keep &= (codes & row) != 0
    for j in range(1, v):
        col = sum(_edge_bit(i, j) for i in range(j))
        keep &= (codes & col) != 0
    return codes[keep]


def _edges_of(v: int, bits: int) -> list[tuple[int, int]]:
    return [(i, j) for j in range(v) for i in range(j) if bits & _edge_bit(i, j)]


def _labelings(v: int) -> np.ndarray:
    """All interior labelings of a V-vertex cell, one row each, in ``itertools.product`` order."""
    grids = np.meshgrid(*[np.arange(len(OPS))] * (v - 2), indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1) if v > 2 else np.zeros((1, 0), dtype=np.int64)


def _canonical_labelings(v: int, bits: int) -> list[tuple[int, ...]]:
    """The labelings that make (bits, labeling) the canonical member of its class, ascending; [] if none.

    The matrix must be the smallest of its relabelled matrices; among the vertex orders that give the same
    matrix (its automorphisms), the labeling must be the smallest.
    """
    edges = _edges_of(v, bits)
    automorphisms = []
    for perm in itertools.permutations(range(1, v - 1)):
        pos = [0, *[0] * (v - 2), v - 1]
        for new, old in enumerate(perm, start=1):
            pos[old] = new
        moved = 0
        for i, j in edges:
            if pos[i] >= pos[j]:
                break
            moved |= _edge_bit(pos[i], pos[j])
        else:
            if moved < bits:
                return []
            if moved == bits:
                automorphisms.append(pos)
    labelings = _labelings(v)
    weights = len(OPS) ** np.arange(v - 3, -1, -1)
    codes = labelings @ weights
    keep = np.ones(len(labelings), dtype=bool)
    for pos in automorphisms:
        permuted = np.empty_like(labelings)
        for old in range(1, v - 1):
            permuted[:, pos[old] - 1] = labelings[:, old - 1]
        keep &= codes <= permuted @ weights
    return [tuple(int(x) for x in row) for row in labelings[keep]]


def enumerate_cells(max_vertices: int = MAX_VERTICES) -> Iterator[NB101Cell]:
    """Every cell with at most ``max_vertices`` vertices, once each (its canonical member), in the generator's order.

    The benchmark's generator walks vertices 2..7, edge bit masks ascending and labelings in product order, and
    keeps the first member of each hash class; this yields the same cells in the same order by testing each
    pair for being its class's smallest member (a few seconds for the whole space).

    Example:
        >>> sum(1 for _ in enumerate_cells(4))
        91
    """
    if not 2 <= max_vertices <= MAX_VERTICES:
        raise ValueError(f"max_vertices={max_vertices!r} is not allowed; use 2..{MAX_VERTICES}")
    for v in range(2, max_vertices + 1):
        for bits in _matrix_codes(v).tolist():
            for labeling in _canonical_labelings(v, bits):
                yield _cell_from_code(v, bits, (-1, *labeling, -2))


def hash_classes(max_vertices: int) -> dict[str, NB101Cell]:
    """Graph hash -> first member, over every (matrix, labeling) pair of the generator: the benchmark's own way.

    Slow (every pair is hashed: about 5 minutes for the whole space); ``enumerate_cells`` is the fast way.
    """
    if not 2 <= max_vertices <= MAX_VERTICES:
        raise ValueError(f"max_vertices={max_vertices!r} is not allowed; use 2..{MAX_VERTICES}")
    buckets: dict[str, NB101Cell] = {}
    for v in range(2, max_vertices + 1):
        for bits in _matrix_codes(v).tolist():
            edges = _edges_of(v, bits)
            for labeling in itertools.product(range(len(OPS)), repeat=v - 2):
                labels = (-1, *labeling, -2)
                key = _hash_code(v, edges, labels)
                if key not in buckets:
                    buckets[key] = _cell_from_code(v, bits, labels)
    return buckets


def _sample_one(rng: np.random.Generator, max_vertices: int) -> NB101Cell:
    sizes = [len(_matrix_codes(v)) * len(OPS) ** (v - 2) for v in range(2, max_vertices + 1)]
    total = sum(sizes)
    while True:
        u = int(rng.integers(total))
        v = 2
        for size in sizes:
            if u < size:
                break
            u -= size
            v += 1
        per_matrix = len(OPS) ** (v - 2)
        bits = int(_matrix_codes(v)[u // per_matrix])
        code = u % per_matrix
        labeling = []
        for _ in range(v - 2):
            labeling.append(code % len(OPS))
            code //= len(OPS)
        labels = (-1, *reversed(labeling), -2)
        orbit = _orbit(v, _edges_of(v, bits), labels)
        # Each class has len(orbit) pairs among the generator's; accepting 1/len(orbit) of them is uniform.
        if rng.random() * len(orbit) < 1.0:
            best_bits, best_labels = min(orbit)
            return _cell_from_code(v, best_bits, best_labels)


@lru_cache(maxsize=None)
def _class_count(max_vertices: int) -> int:
    return NUM_CELLS if max_vertices == MAX_VERTICES else sum(1 for _ in enumerate_cells(max_vertices))


def sample(n: int, rng: np.random.Generator, replace: bool = False, *, max_vertices: int = MAX_VERTICES
           ) -> list[NB101Cell]:
    """``n`` cells drawn uniformly over the unique cells (isomorphism classes) with ``rng``; canonical members.

    A (matrix, labeling) pair of the benchmark's generator is drawn uniformly and accepted with probability
    1 / (number of pairs of its class); without replacement, a repeated cell is drawn again.

    Example:
        >>> import numpy as np
        >>> sample(3, np.random.default_rng(0)) == sample(3, np.random.default_rng(0))
        True
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator, e.g. numpy.random.default_rng(seed)")
    if not 2 <= max_vertices <= MAX_VERTICES:
        raise ValueError(f"max_vertices={max_vertices!r} is not allowed; use 2..{MAX_VERTICES}")
    limit = _class_count(max_vertices) if not replace else None
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0 or (limit is not None and n > limit):
        raise ValueError(f"cannot sample {n!r} cells; allowed: 0..{limit} without replacement"
                         if limit is not None else f"cannot sample {n!r} cells; use an integer >= 0")
    cells: list[NB101Cell] = []
    seen: set[NB101Cell] = set()
    while len(cells) < n:
        cell = _sample_one(rng, max_vertices)
        if replace or cell not in seen:
            seen.add(cell)
            cells.append(cell)
    return cells


# ---------------------------------------------------------------------- local moves


def _insert_vertex(cell: NB101Cell, i: int, j: int, op: str) -> NB101Cell:
    """A new vertex with ``op`` just after vertex i, wired i -> new -> j."""
    v = cell.num_vertices

    def shift(k: int) -> int:
        return k if k <= i else k + 1

    edges = [(shift(a), shift(b)) for a, b in cell.edges] + [(i, i + 1), (i + 1, shift(j))]
    ops = list(cell.ops[: i + 1]) + [op] + list(cell.ops[i + 1:])
    return _from_edges(v + 1, edges, ops)


def neighbours(cell: CellLike) -> list[NB101Cell]:
    """The distinct valid cells one edit away, canonical, in a fixed order (the cell itself excluded).

    The edits, on the canonical pruned cell: change one interior op; remove one edge (then prune); add one
    edge; add one vertex with any op wired from a vertex i to a later vertex j (the smallest addition that
    lies on an input-output path, so cells can grow). Results that break a rule are dropped.

    Example:
        >>> [to_string(c) for c in neighbours("/1")]
        ['3/11-1', '1/11-1', 'm/11-1']
    """
    base = canonical(cell)
    v = base.num_vertices
    edges = set(base.edges)
    candidates: list[NB101Cell] = []
    for k in range(1, v - 1):
        for op in OPS:
            if op != base.ops[k]:
                candidates.append(NB101Cell(base.matrix, base.ops[:k] + (op,) + base.ops[k + 1:]))
    for i in range(v):
        for j in range(i + 1, v):
            flipped = edges ^ {(i, j)}
            candidates.append(_from_edges(v, sorted(flipped), base.ops))
    if v < MAX_VERTICES:
        for i in range(v - 1):
            for j in range(i + 1, v):
                for op in OPS:
                    candidates.append(_insert_vertex(base, i, j, op))
    result: dict[NB101Cell, None] = {}
    for candidate in candidates:
        try:
            moved = canonical(candidate)
        except ValueError:
            continue
        if moved != base:
            result.setdefault(moved, None)
    return list(result)


# ---------------------------------------------------------------------- models


def build_model(
    cell: CellLike,
    num_classes: int = 10,
    stem_channels: int = 128,
    num_stacks: int = 3,
    cells_per_stack: int = 3,
    *,
    canonicalize: bool = True,
    seed: int | None = None,
) -> nn.Module:
    """The NAS-Bench-101 network of ``cell`` (see ``zcnas.spaces.nb101_model.NB101Network``).

    ``canonicalize=True`` builds the canonical member, the network the benchmark trained; isomorphic vertex
    orders can differ from it in which vertex gets a remainder channel (when the output's in-degree does not
    divide the channels). ``canonicalize=False`` builds the pruned cell in the order given.

    Example:
        >>> net = build_model("3/10-1", num_classes=10, stem_channels=8, num_stacks=1, cells_per_stack=1, seed=0)
        >>> sum(p.numel() for p in net.parameters())
        994
    """
    c = canonical(cell) if canonicalize else check(as_cell(cell))
    return NB101Network(c, num_classes=num_classes, stem_channels=stem_channels, num_stacks=num_stacks,
                        cells_per_stack=cells_per_stack, seed=seed)


@register_space
class NB101Space(SearchSpace):
    """NAS-Bench-101 through the ``SearchSpace`` protocol; cells are ``NB101Cell``\\s, keyed by canonical strings.

    Example:
        >>> import numpy as np
        >>> from zcnas.spaces import get_space
        >>> space = get_space("nb101")
        >>> cell = space.sample(1, np.random.default_rng(0))[0]
        >>> space.decode(space.encode(cell)) == cell, space.size
        (True, 423624)
    """

    name = "nb101"
    description = "NAS-Bench-101: DAG cells of up to 7 vertices and 9 edges, 3 ops, 423,624 cells (Ying et al., 2019)"
    input_shape = (3, 32, 32)
    datasets = {"cifar10": 10}
    model_options = (
        ModelOption("stem_channels", int, 128, "channels of the stem and the first stack (benchmark: 128)", minimum=1),
        ModelOption("num_stacks", int, 3, "stacks of cells, channels doubling after each (benchmark: 3)", minimum=1),
        ModelOption("cells_per_stack", int, 3, "cells per stack (benchmark: 3)", minimum=1),
    )
    benchmark = "nb101"

    def encode(self, cell: CellLike) -> str:
        return to_string(cell)

    def decode(self, text: str) -> NB101Cell:
        if not isinstance(text, str):
            raise ValueError(f"a NAS-Bench-101 cell string is a str, not {type(text).__name__}")
        return from_string(text)

    def parse(self, text: str) -> str:
        return parse(text)

    @property
    def size(self) -> int:
        return NUM_CELLS

    def cells(self) -> Iterator[NB101Cell]:
        return enumerate_cells()

    def sample(self, n: int, rng: np.random.Generator, replace: bool = False) -> list[NB101Cell]:
        return sample(n, rng, replace=replace)

    def neighbours(self, cell: CellLike) -> list[NB101Cell]:
        return neighbours(cell)

    def dedup_key(self, cell: CellLike) -> str:
        return graph_hash(cell)

    def size_key(self, cell: CellLike) -> str:
        return graph_hash(cell)

    def build_model(self, cell: CellLike, num_classes: int, *, seed: int | None = None, **options: Any) -> nn.Module:
        return build_model(cell, num_classes=num_classes, seed=seed, **self.check_options(options))
