"""A space's cells as fixed categorical choices and as small graphs: what REINFORCE and the predictor read.

The ``SearchSpace`` protocol gives strings, samples and neighbours. A factorised policy needs each cell as a
vector of choices (one per decision, e.g. one op per edge) and a graph network needs a graph. A space that
knows both offers them through an optional ``coding()`` method returning a ``CellCoding``; for any other
space ``coding_for`` infers a ``TemplateCoding`` from the cells' encoded strings.

``TemplateCoding``: the encoded strings are split into word tokens (letters, digits, ``_`` and ``.``) and the
separators between them. When every cell shares one separator template, each token position that varies
between cells is a decision and the tokens seen there are its options (in sorted order). It knows no wiring,
so its graph is a star: an input node feeding every decision node, every decision node feeding an output node,
each decision node labelled by (decision, option). A space whose cells are not one template raises
ValueError naming the space.

Example:
    >>> import numpy as np
    >>> from zcnas.spaces import get_space
    >>> coding = coding_for(get_space("nb201"))
    >>> coding.sizes, coding.options[0]
    ((5, 5, 5, 5, 5, 5), ('avg_pool_3x3', 'none', 'nor_conv_1x1', 'nor_conv_3x3', 'skip_connect'))
    >>> cell = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
    >>> coding.vector(cell)
    (3, 1, 4, 0, 2, 1)
    >>> coding.cell(coding.vector(cell)) == cell
    True
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from zcnas.spaces.base import SearchSpace

__all__ = ["CellCoding", "TemplateCoding", "coding_for"]

_TOKEN = re.compile(r"([A-Za-z0-9_.]+)")
#: Spaces up to this size are read whole when a template is inferred; larger ones through a sample.
_ENUMERATE_UP_TO = 200_000
_SAMPLE = 5000


class CellCoding(ABC):
    """Cells of one space as vectors of categorical choices, and as labelled graphs.

    Attributes:
        sizes: the number of options of each decision.
        num_labels: node labels are integers in ``0..num_labels-1``.
    """

    sizes: tuple[int, ...] = ()
    num_labels: int = 0

    @abstractmethod
    def vector(self, cell: str) -> tuple[int, ...]:
        """The choices of a cell string, one option index per decision."""

    @abstractmethod
    def cell(self, vector: Sequence[int]) -> str:
        """The encoded cell of a choice vector; ValueError when the choices make no cell of the space."""

    @abstractmethod
    def graph(self, cell: str) -> tuple[np.ndarray, np.ndarray]:
        """``(adjacency, labels)``: a (V, V) 0/1 array, ``adjacency[i, j] = 1`` for an edge i -> j, and V labels."""


class TemplateCoding(CellCoding):
    """The coding inferred from the encoded strings of ``cells`` (see the module docstring).

    Args:
        space: the space (its ``encode`` makes the strings; ``validate`` checks an assembled one).
        cells: cells to infer the template and the options from.

    Example:
        >>> from zcnas.spaces import get_space
        >>> TemplateCoding(get_space("nb201"), ["|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"]).sizes
        ()
    """

    def __init__(self, space: SearchSpace, cells: Sequence[object]) -> None:
        self.space = space
        strings = [space.encode(c) for c in cells]
        if not strings:
            raise ValueError(f"space {space.name!r} gave no cells to infer a coding from")
        parts = [_TOKEN.split(s) for s in strings]
        template = parts[0]
        seps = template[0::2]
        for s, p in zip(strings, parts):
            if len(p) != len(template) or p[0::2] != seps:
                raise ValueError(
                    f"cells of space {space.name!r} do not share one string template ({strings[0]!r} vs {s!r}); "
                    "give the space a coding() method returning a zcnas.search.coding.CellCoding"
                )
        tokens = np.array([p[1::2] for p in parts], dtype=object)
        self._template = list(template)
        self._positions: list[int] = []
        options: list[tuple[str, ...]] = []
        for j in range(tokens.shape[1]):
            seen = tuple(sorted(set(tokens[:, j])))
            if len(seen) > 1:
                self._positions.append(2 * j + 1)
                options.append(seen)
        self.options: tuple[tuple[str, ...], ...] = tuple(options)
        self._index = [{tok: i for i, tok in enumerate(opts)} for opts in options]
        self.sizes = tuple(len(o) for o in options)
        self._offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self.num_labels = 2 + int(self._offsets[-1])
        d = len(self.sizes)
        adjacency = np.zeros((d + 2, d + 2), dtype=np.float32)
        adjacency[0, 1 : d + 1] = 1.0
        adjacency[1 : d + 1, d + 1] = 1.0
        self._adjacency = adjacency

    def vector(self, cell: str) -> tuple[int, ...]:
        text = self.space.encode(cell)
        parts = _TOKEN.split(text)
        if len(parts) != len(self._template) or parts[0::2] != self._template[0::2]:
            raise ValueError(f"cell {text!r} does not follow the template of space {self.space.name!r}")
        try:
            return tuple(self._index[k][parts[pos]] for k, pos in enumerate(self._positions))
        except KeyError as exc:
            raise ValueError(f"cell {text!r} uses {exc.args[0]!r}, an option not seen in space {self.space.name!r}") from None

    def cell(self, vector: Sequence[int]) -> str:
        if len(vector) != len(self.sizes):
            raise ValueError(f"a choice vector of space {self.space.name!r} has {len(self.sizes)} entries, not {len(vector)}")
        parts = list(self._template)
        for k, (pos, v) in enumerate(zip(self._positions, vector)):
            if not 0 <= int(v) < self.sizes[k]:
                raise ValueError(f"choice {int(v)} of decision {k} is out of range 0..{self.sizes[k] - 1}")
            parts[pos] = self.options[k][int(v)]
        return self.space.encode("".join(parts))

    def graph(self, cell: str) -> tuple[np.ndarray, np.ndarray]:
        vec = self.vector(cell)
        labels = np.empty(len(vec) + 2, dtype=np.int64)
        labels[0], labels[-1] = 0, 1
        labels[1:-1] = 2 + self._offsets[:-1] + np.asarray(vec, dtype=np.int64)
        return self._adjacency, labels


_CACHE: dict[int, tuple[SearchSpace, CellCoding]] = {}


def coding_for(space: SearchSpace) -> CellCoding:
    """The space's own ``coding()`` when it has one, else a ``TemplateCoding`` inferred once and cached.

    The template is inferred from every cell when the space enumerates up to 200,000 cells, else from 5,000
    sampled with a fixed seed (options never sampled are then unknown to the coding).
    """
    own = getattr(space, "coding", None)
    if callable(own):
        coding = own()
        if not isinstance(coding, CellCoding):
            raise TypeError(f"space {space.name!r}: coding() must return a CellCoding, not {type(coding).__name__}")
        return coding
    hit = _CACHE.get(id(space))
    if hit is not None and hit[0] is space:
        return hit[1]
    size = space.size
    try:
        cells = list(space.cells()) if size is not None and size <= _ENUMERATE_UP_TO else None
    except NotImplementedError:
        cells = None
    if cells is None:
        cells = space.sample(_SAMPLE, np.random.default_rng(0), replace=True)
    coding = TemplateCoding(space, cells)
    if not coding.sizes:
        raise ValueError(f"space {space.name!r}: its cells' strings do not vary, so no choices could be inferred")
    _CACHE[id(space)] = (space, coding)
    return coding
