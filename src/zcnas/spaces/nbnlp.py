"""NAS-Bench-NLP: recurrent cells from recipes — codec, canonical form, validity, sampling, neighbours, models.

A cell is a recipe: a dict ``node -> {"op": ..., "input": [...]}``. Its inputs are ``x`` (the layer input) and
the previous hidden states ``h_prev_0 .. h_prev_{k-1}``; its outputs are ``h_new_0 .. h_new_{k-1}``, and
``h_new_0`` is the layer's output at each step. Ops (``OPS``): ``linear`` (W_0 in_0 + b + sum W_j in_j, one bias),
``blend`` (z*a + (1-z)*b), ``elementwise_prod``, ``elementwise_sum``, ``activation_tanh``, ``activation_sigm``,
``activation_leaky_relu``. Other node names are free.

**Canonical form.** ``encode`` gives one compact string per graph, whatever the node names, the key order or the
order of the inputs of a commutative op (every op but ``blend``): the nodes in a canonical topological order,
``;``-separated, each ``op(inputs)`` with inputs ``x``, ``h<i>`` (h_prev_i) or the position of an earlier node,
and ``>i`` after the node that is ``h_new_i``. The plain tanh RNN is ``lin(x,h0);tanh(0)>0``. The order comes
from colour refinement over inputs and consumers, with individualisation where colours tie, keeping the smallest
string (an exact canonical labelling: two recipes share a string exactly when they are the same graph).
``decode`` gives the recipe back with nodes named ``node_<position>`` and ``h_new_<i>``. ``short_id`` is a
12-character digest of the string for file names and plots.

**Validity** (``check_recipe``; each rule has its own ValueError): known ops; each op's number of inputs
(linear >= 1, blend 3, prod and sum >= 2, activations 1); inputs that exist (``x``, ``h_prev_i`` for i < k, or a
node); ``x`` read only by linear nodes (it has another width), and by
at least one; no cycles; hidden states numbered ``h_new_0 ..
h_new_{k-1}`` with none missing; every node feeds some ``h_new_i`` (no dead nodes). The benchmark's generator
adds rules of its own (``generator_violations``): 1 to 3 hidden states, linear nodes with 2 or 3 distinct inputs
taken from x, h_prev and activation nodes, activations that read a linear node, blend/prod/sum with distinct
inputs, no ``h_new_i`` reading an ``h_prev`` directly, every input used, at most k + 22 nodes. The benchmark's
three hand-written recipes (its RNN, LSTM and GRU examples) break some of them, so they are a check, not a rule
of ``encode``.

**Sampling** follows the generator (``sample_recipe``): 1-3 hidden states and 7, 14 or 21 intermediate vertices
(the benchmark's nine settings, uniform); main ops linear/blend/prod/sum with weights 3:1:1:1; a linear reads 2
(weight 4) or 3 (weight 1) distinct inputs among x, h_prev and activation nodes and is followed by an activation
(tanh/sigm/leaky_relu, uniform); blend/prod/sum read 3/2 distinct inputs among h_prev and earlier nodes; then k
random nodes become ``h_new_0..``, dead nodes are pruned, and drafts that fail the generator's sanity check
(every input used, no h_new reading an h_prev directly) are drawn again.

**Neighbours** are one edit away: one node's op changed to another op that takes its number of inputs, or one
input of one node moved to another source; only valid results, deduplicated, in a fixed order.

Example:
    >>> from zcnas.spaces import nbnlp
    >>> rnn = {"f": {"op": "linear", "input": ["x", "h_prev_0"]}, "h_new_0": {"op": "activation_tanh", "input": ["f"]}}
    >>> nbnlp.encode(rnn)
    'lin(x,h0);tanh(0)>0'
    >>> renamed = {"h_new_0": {"op": "activation_tanh", "input": ["g"]}, "g": {"op": "linear", "input": ["h_prev_0", "x"]}}
    >>> nbnlp.encode(renamed) == nbnlp.encode(rnn)
    True
    >>> nbnlp.decode("lin(x,h0);tanh(0)>0")["h_new_0"]
    {'op': 'activation_tanh', 'input': ['node_0']}
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Union

import numpy as np
from torch import nn

from zcnas.spaces.base import ModelOption, SearchSpace, register_space
from zcnas.spaces.nbnlp_model import CELL_OPS, NBNLPNetwork

__all__ = [
    "ACTIVATIONS",
    "OPS",
    "NBNLPSpace",
    "build_model",
    "check_recipe",
    "decode",
    "encode",
    "generator_violations",
    "neighbours",
    "plan",
    "sample_recipe",
    "short_id",
    "size_key",
]

OPS: tuple[str, ...] = CELL_OPS
ACTIVATIONS: tuple[str, ...] = ("activation_tanh", "activation_sigm", "activation_leaky_relu")
ELEMENTWISE: tuple[str, ...] = ("blend", "elementwise_prod", "elementwise_sum")
#: Short op names of the compact string.
SHORT: dict[str, str] = {
    "linear": "lin", "blend": "blend", "elementwise_prod": "prod", "elementwise_sum": "sum",
    "activation_tanh": "tanh", "activation_sigm": "sigm", "activation_leaky_relu": "lrelu",
}
_LONG = {v: k for k, v in SHORT.items()}
#: (fewest, most) inputs of each op; None: no upper bound.
ARITY: dict[str, tuple[int, int | None]] = {
    "linear": (1, None), "blend": (3, 3), "elementwise_prod": (2, None), "elementwise_sum": (2, None),
    **{a: (1, 1) for a in ACTIVATIONS},
}
#: The benchmark's generator settings: hidden states and intermediate vertices.
GENERATOR_HIDDEN_STATES: tuple[int, ...] = (1, 2, 3)
GENERATOR_INTERMEDIATE: tuple[int, ...] = (7, 14, 21)

Recipe = dict[str, dict[str, Any]]
Cell = Union[str, Mapping[str, Any]]

_PREV = re.compile(r"h_prev_(\d+)")
_NEW = re.compile(r"h_new_(\d+)")
_COMPACT_NODE = re.compile(r"([a-z]+)\(([^()]*)\)(?:>(\d+))?")


# ---------------------------------------------------------------------- reading and checking


def _error(why: str) -> ValueError:
    return ValueError(f"not a NAS-Bench-NLP recipe: {why}")


def as_recipe(cell: Cell) -> Recipe:
    """A recipe dict from a dict, its JSON text or a compact string (not yet checked beyond its format)."""
    if isinstance(cell, str):
        text = cell.strip()
        if text.startswith("{"):
            try:
                cell = json.loads(text)
            except json.JSONDecodeError as exc:
                raise _error(f"the JSON does not parse ({exc.msg} at character {exc.pos})") from None
        else:
            return _parse_compact(text)
    if not isinstance(cell, Mapping) or not cell:
        raise _error(f"expected a non-empty dict node -> {{'op', 'input'}}, its JSON or a compact string; got {cell!r}")
    recipe: Recipe = {}
    for name, spec in cell.items():
        if not isinstance(name, str) or not name:
            raise _error(f"node names are non-empty strings; got {name!r}")
        if not isinstance(spec, Mapping) or "op" not in spec or "input" not in spec:
            raise _error(f"node {name!r} must be a dict with 'op' and 'input'; got {spec!r}")
        inputs = spec["input"]
        if isinstance(inputs, str) or not all(isinstance(i, str) for i in inputs):
            raise _error(f"the input of node {name!r} must be a list of node names; got {inputs!r}")
        recipe[name] = {"op": spec["op"], "input": list(inputs)}
    return recipe


def _parse_compact(text: str) -> Recipe:
    parts = text.split(";")
    names: list[str] = []
    recipe: Recipe = {}
    outputs: set[int] = set()
    for position, part in enumerate(parts):
        match = _COMPACT_NODE.fullmatch(part)
        if match is None or match.group(1) not in _LONG:
            raise _error(f"part {position} {part!r} of {text!r} should read op(inputs) or op(inputs)>i with op in "
                         f"{', '.join(SHORT.values())}")
        op, args, out = _LONG[match.group(1)], match.group(2), match.group(3)
        inputs = []
        for token in args.split(",") if args else []:
            if token == "x":
                inputs.append("x")
            elif re.fullmatch(r"h\d+", token):
                inputs.append(f"h_prev_{int(token[1:])}")
            elif token.isdigit() and int(token) < position:
                inputs.append(names[int(token)])
            else:
                raise _error(f"input {token!r} of part {position} of {text!r} is not x, h<i> or an earlier position")
        if out is not None:
            if int(out) in outputs:
                raise _error(f"{text!r} marks h_new_{int(out)} twice")
            outputs.add(int(out))
            name = f"h_new_{int(out)}"
        else:
            name = f"node_{position}"
        names.append(name)
        recipe[name] = {"op": op, "input": inputs}
    return recipe


def _hidden_count(recipe: Recipe) -> int:
    indices = [int(m.group(1)) for n in recipe if (m := _NEW.fullmatch(n))]
    if not indices:
        raise ValueError("not a valid NAS-Bench-NLP recipe: it has no h_new_0 (the output of the cell)")
    return max(indices) + 1


def check_recipe(cell: Cell) -> Recipe:
    """The recipe of ``cell``, checked against every structural rule; the first broken rule raises ValueError.

    Example:
        >>> check_recipe({"h_new_0": {"op": "conv", "input": ["x"]}})
        Traceback (most recent call last):
        ...
        ValueError: not a valid NAS-Bench-NLP recipe: node 'h_new_0' has unknown op 'conv'; ops: linear, blend, elementwise_prod, elementwise_sum, activation_tanh, activation_sigm, activation_leaky_relu
    """
    recipe = as_recipe(cell)

    def bad(why: str) -> ValueError:
        return ValueError(f"not a valid NAS-Bench-NLP recipe: {why}")

    for name, spec in recipe.items():
        if name == "x" or _PREV.fullmatch(name):
            raise bad(f"{name!r} is an input of the cell and cannot be a node")
        if spec["op"] not in OPS:
            raise bad(f"node {name!r} has unknown op {spec['op']!r}; ops: {', '.join(OPS)}")
    for name, spec in recipe.items():
        low, high = ARITY[spec["op"]]
        n = len(spec["input"])
        if n < low or (high is not None and n > high):
            wanted = f"exactly {low}" if low == high else f"at least {low}"
            raise bad(f"node {name!r} ({spec['op']}) takes {wanted} input(s); it has {n}")
    k = _hidden_count(recipe)
    missing = [i for i in range(k) if f"h_new_{i}" not in recipe]
    if missing:
        raise bad(f"h_new_{missing[0]} is missing; hidden states are numbered h_new_0..h_new_{k - 1} with none left out")
    for name, spec in recipe.items():
        for source in spec["input"]:
            prev = _PREV.fullmatch(source)
            if source == "x" or source in recipe:
                continue
            if prev and int(prev.group(1)) < k:
                continue
            allowed = "x, " + ", ".join(f"h_prev_{i}" for i in range(k)) + " or a node of the recipe"
            raise bad(f"node {name!r} reads {source!r}, which does not exist; inputs are {allowed}")
    for name, spec in recipe.items():
        if "x" in spec["input"] and spec["op"] != "linear":
            raise bad(f"node {name!r} ({spec['op']}) reads x; only linear nodes may (x has the layer's input width)")
    if not any("x" in spec["input"] for spec in recipe.values()):
        raise bad("no node reads x, so the cell ignores its input")
    cycle = _find_cycle(recipe)
    if cycle:
        raise bad("it has a cycle: " + " -> ".join(cycle))
    live = _ancestors(recipe, [f"h_new_{i}" for i in range(k)])
    dead = [n for n in recipe if n not in live]
    if dead:
        raise bad(f"node {dead[0]!r} feeds no h_new_i (a dead node)")
    return recipe


def _find_cycle(recipe: Recipe) -> list[str]:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for source in recipe[node]["input"]:
            if source not in recipe:
                continue
            if state.get(source) == 1:
                return path[path.index(source):] + [source]
            if source not in state:
                found = visit(source)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return []

    for node in recipe:
        if node not in state:
            found = visit(node)
            if found:
                return found[::-1]
    return []


def _ancestors(recipe: Recipe, roots: list[str]) -> set[str]:
    seen = set(r for r in roots if r in recipe)
    stack = list(seen)
    while stack:
        for source in recipe[stack.pop()]["input"]:
            if source in recipe and source not in seen:
                seen.add(source)
                stack.append(source)
    return seen


def generator_violations(cell: Cell) -> list[str]:
    """The benchmark generator's rules that a (structurally valid) recipe breaks; empty when it keeps them all.

    Example:
        >>> gru = {"r": {"op": "linear", "input": ["x", "h_prev_0"]}, "r_act": {"op": "activation_sigm", "input": ["r"]},
        ...        "h_new_0": {"op": "blend", "input": ["r_act", "h_prev_0", "r"]}}
        >>> generator_violations(gru)
        ['h_new_0 reads h_prev_0 directly']
    """
    recipe = check_recipe(cell)
    k = _hidden_count(recipe)
    found: list[str] = []
    if k > max(GENERATOR_HIDDEN_STATES):
        found.append(f"{k} hidden states (the generator makes 1 to {max(GENERATOR_HIDDEN_STATES)})")
    for name, spec in recipe.items():
        op, inputs = spec["op"], spec["input"]
        if len(set(inputs)) != len(inputs):
            found.append(f"{name} reads one input twice")
        if op == "linear":
            if len(inputs) not in (2, 3):
                found.append(f"{name} (linear) has {len(inputs)} inputs, not 2 or 3")
            for source in inputs:
                if not (source == "x" or _PREV.fullmatch(source) or recipe[source]["op"] in ACTIVATIONS):
                    found.append(f"{name} (linear) reads {source} ({recipe[source]['op']}), not x, h_prev or an activation")
        elif op in ACTIVATIONS:
            source = inputs[0]
            if source not in recipe or recipe[source]["op"] != "linear":
                found.append(f"{name} ({op}) reads {source}, not a linear node")
        elif op in ("elementwise_prod", "elementwise_sum") and len(inputs) != 2:
            found.append(f"{name} ({op}) has {len(inputs)} inputs, not 2")
        if _NEW.fullmatch(name):
            for source in inputs:
                if _PREV.fullmatch(source):
                    found.append(f"{name} reads {source} directly")
    used = {s for spec in recipe.values() for s in spec["input"]}
    for source in ["x"] + [f"h_prev_{i}" for i in range(k)]:
        if source not in used:
            found.append(f"{source} is not used")
    if len(recipe) > k + max(GENERATOR_INTERMEDIATE) + 1:
        found.append(f"{len(recipe)} nodes (the generator makes at most k + {max(GENERATOR_INTERMEDIATE) + 1})")
    return found


# ---------------------------------------------------------------------- canonical form


def _digest(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=10).hexdigest()


def _canonical(recipe: Recipe) -> tuple[str, list[tuple[str, str, list[str]]]]:
    """(compact string, nodes in canonical order with their original names) of a checked recipe."""
    nodes = sorted(recipe)
    consumers: dict[str, list[tuple[str, str]]] = {n: [] for n in nodes}
    for name in nodes:
        op = recipe[name]["op"]
        for position, source in enumerate(recipe[name]["input"]):
            if source in consumers:
                consumers[source].append((name, str(position) if op == "blend" else "*"))

    def leaf(source: str, colours: dict[str, str]) -> str:
        return colours[source] if source in colours else "in:" + source

    def refine(colours: dict[str, str]) -> dict[str, str]:
        classes = len(set(colours.values()))
        while True:
            new = {}
            for name in nodes:
                ins = [leaf(s, colours) for s in recipe[name]["input"]]
                if recipe[name]["op"] != "blend":
                    ins.sort()
                outs = sorted(f"{colours[c]}@{tag}" for c, tag in consumers[name])
                new[name] = _digest(colours[name], "(", *ins, ")", "[", *outs, "]")
            count = len(set(new.values()))
            if count == classes:
                return colours
            colours, classes = new, count

    def serialise(colours: dict[str, str]) -> tuple[str, list[tuple[str, str, list[str]]]]:
        placed: dict[str, int] = {}
        order: list[str] = []
        waiting = set(nodes)
        while waiting:
            ready = [n for n in waiting if all(s not in recipe or s in placed for s in recipe[n]["input"])]
            chosen = min(ready, key=lambda n: colours[n])
            placed[chosen] = len(order)
            order.append(chosen)
            waiting.remove(chosen)

        def token(source: str) -> tuple[tuple[int, int], str]:
            if source == "x":
                return (0, 0), "x"
            prev = _PREV.fullmatch(source)
            if prev:
                return (1, int(prev.group(1))), f"h{int(prev.group(1))}"
            return (2, placed[source]), str(placed[source])

        parts, ordered = [], []
        for name in order:
            op, inputs = recipe[name]["op"], list(recipe[name]["input"])
            if op != "blend":
                inputs.sort(key=lambda s: token(s)[0])
            out = _NEW.fullmatch(name)
            parts.append(f"{SHORT[op]}({','.join(token(s)[1] for s in inputs)})" + (f">{out.group(1)}" if out else ""))
            ordered.append((name, op, inputs))
        return ";".join(parts), ordered

    def search(colours: dict[str, str]) -> tuple[str, list[tuple[str, str, list[str]]]]:
        groups: dict[str, list[str]] = {}
        for name in nodes:
            groups.setdefault(colours[name], []).append(name)
        ties = [c for c, members in groups.items() if len(members) > 1]
        if not ties:
            return serialise(colours)
        target = min(ties)
        best = None
        for name in groups[target]:
            branch = dict(colours)
            branch[name] = _digest(colours[name], "individualised")
            candidate = search(refine(branch))
            if best is None or candidate[0] < best[0]:
                best = candidate
        return best  # type: ignore[return-value]

    start = {}
    for name in nodes:
        out = _NEW.fullmatch(name)
        start[name] = _digest(recipe[name]["op"], f"out{out.group(1)}" if out else "inner")
    return search(refine(start))


def encode(cell: Cell) -> str:
    """The canonical compact string of a recipe (dict, JSON or compact string); a bad recipe raises ValueError."""
    return _canonical(check_recipe(cell))[0]


def decode(text: str) -> Recipe:
    """The recipe of a compact string, nodes named ``node_<position>`` / ``h_new_<i>``; checked."""
    if not isinstance(text, str):
        raise ValueError(f"a NAS-Bench-NLP cell string is a str, not {type(text).__name__}")
    return check_recipe(_parse_compact(text.strip()))


def plan(cell: Cell) -> list[tuple[str, str, tuple[str, ...]]]:
    """The cell as ``(name, op, inputs)`` in its canonical topological order, names as ``decode`` gives them."""
    recipe = decode(encode(cell))
    return [(name, spec["op"], tuple(spec["input"])) for name, spec in recipe.items()]


def short_id(cell: Cell) -> str:
    """A 12-character digest of the canonical string (for file names and plot labels, not a store key)."""
    return hashlib.blake2b(encode(cell).encode(), digest_size=6).hexdigest()


def size_key(cell: Cell) -> str:
    """Cells with equal keys have equal parameter counts and FLOPs: linear nodes, x inputs, hidden inputs."""
    recipe = decode(encode(cell))
    linears = [spec["input"] for spec in recipe.values() if spec["op"] == "linear"]
    x_inputs = sum(inputs.count("x") for inputs in linears)
    hidden_inputs = sum(len(inputs) for inputs in linears) - x_inputs
    return f"{len(linears)},{x_inputs},{hidden_inputs}"


# ---------------------------------------------------------------------- sampling and neighbours


def _draft(rng: np.random.Generator, k: int, intermediate: int) -> Recipe:
    """One draft of the benchmark's generator (before its sanity check)."""
    base = ["x"] + [f"h_prev_{i}" for i in range(k)]
    recipe: Recipe = {}
    activations: list[str] = []
    i = 0
    while i < k + intermediate:
        op = ("linear", "blend", "elementwise_prod", "elementwise_sum")[int(rng.choice(4, p=[0.5, 1 / 6, 1 / 6, 1 / 6]))]
        if op == "linear":
            wanted = 2 if rng.random() < 0.8 else 3
            candidates = base + activations
            chosen = rng.choice(len(candidates), size=min(wanted, len(candidates)), replace=False)
            recipe[f"node_{i}"] = {"op": "linear", "input": [candidates[int(c)] for c in chosen]}
            activation = ACTIVATIONS[int(rng.integers(len(ACTIVATIONS)))]
            recipe[f"node_{i + 1}"] = {"op": activation, "input": [f"node_{i}"]}
            activations.append(f"node_{i + 1}")
            i += 2
        else:
            wanted = 3 if op == "blend" else 2
            candidates = base[1:] + list(recipe)
            if wanted <= len(candidates):
                chosen = rng.choice(len(candidates), size=wanted, replace=False)
                recipe[f"node_{i}"] = {"op": op, "input": [candidates[int(c)] for c in chosen]}
                i += 1
    renamed = {}
    for j, index in enumerate(rng.choice(len(recipe), size=k, replace=False)):
        renamed[list(recipe)[int(index)]] = f"h_new_{j}"
    result = {renamed.get(n, n): {"op": s["op"], "input": [renamed.get(x, x) for x in s["input"]]}
              for n, s in recipe.items()}
    live = _ancestors(result, [f"h_new_{j}" for j in range(k)])
    return {n: s for n, s in result.items() if n in live}


def sample_recipe(
    rng: np.random.Generator, hidden_states: int | None = None, intermediate: int | None = None,
    max_tries: int = 10_000,
) -> Recipe:
    """One recipe drawn by the benchmark generator's rules (redrawn until it passes the generator's sanity check).

    Args:
        rng: the random generator.
        hidden_states: k in 1..3; None draws it uniformly from the benchmark's settings.
        intermediate: the generator's intermediate vertices (benchmark 7, 14 or 21); None draws one uniformly.
        max_tries: drafts to try before giving up.

    Example:
        >>> import numpy as np
        >>> r = sample_recipe(np.random.default_rng(0))
        >>> generator_violations(r)
        []
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator, e.g. numpy.random.default_rng(seed)")
    for _ in range(max_tries):
        k = hidden_states or int(rng.choice(GENERATOR_HIDDEN_STATES))
        vertices = intermediate or int(rng.choice(GENERATOR_INTERMEDIATE))
        draft = _draft(rng, k, vertices)
        try:
            check_recipe(draft)
        except ValueError:
            continue
        inputs = {s for spec in draft.values() for s in spec["input"]}
        if not {"x", *(f"h_prev_{i}" for i in range(k))} <= inputs:
            continue
        if any(_PREV.fullmatch(s) for i in range(k) for s in draft[f"h_new_{i}"]["input"]):
            continue
        return draft
    raise ValueError(f"no valid recipe in {max_tries} drafts with hidden_states={hidden_states}, "
                     f"intermediate={intermediate}")


def neighbours(cell: Cell) -> list[str]:
    """The valid cells one edit away (one op changed, or one input moved), canonical strings, in a fixed order.

    A cell that keeps the benchmark generator's rules gets only neighbours that keep them too.

    Example:
        >>> neighbours("lin(x,h0);tanh(0)>0")
        ['lin(x,h0);sigm(0)>0', 'lin(x,h0);lrelu(0)>0']
    """
    text = encode(cell)
    recipe = decode(text)
    k = _hidden_count(recipe)
    sources = ["x"] + [f"h_prev_{i}" for i in range(k)] + list(recipe)
    found: dict[str, None] = {}
    strict = not generator_violations(recipe)

    def consider(candidate: Recipe) -> None:
        try:
            key = encode(candidate)
            if strict and generator_violations(candidate):
                return
        except ValueError:
            return
        if key != text:
            found.setdefault(key, None)

    for name, spec in recipe.items():
        for op in OPS:
            low, high = ARITY[op]
            if op != spec["op"] and low <= len(spec["input"]) and (high is None or len(spec["input"]) <= high):
                consider({**recipe, name: {"op": op, "input": list(spec["input"])}})
        for position in range(len(spec["input"])):
            for source in sources:
                if source != spec["input"][position] and source != name:
                    inputs = list(spec["input"])
                    inputs[position] = source
                    consider({**recipe, name: {"op": spec["op"], "input": inputs}})
    return list(found)


# ---------------------------------------------------------------------- models


def build_model(
    cell: Cell,
    num_classes: int = 10000,
    *,
    emsize: int = 400,
    nhid: int = 600,
    nlayers: int = 3,
    dropout: float = 0.1,
    dropouth: float = 0.25,
    dropouti: float = 0.4,
    dropoute: float = 0.0,
    wdrop: float = 0.1,
    tie_weights: bool = True,
    seed: int | None = None,
) -> NBNLPNetwork:
    """The benchmark's language model of a recipe (see ``zcnas.spaces.nbnlp_model.NBNLPNetwork``).

    ``num_classes`` is the vocabulary size (PTB 10,000; WikiText-2 33,278).

    Example:
        >>> net = build_model("lin(x,h0);tanh(0)>0", num_classes=33278, seed=0)
        >>> sum(p.numel() for p in net.parameters())          # the benchmark's num_params for this recipe
        15066078
    """
    return NBNLPNetwork(
        plan(cell), vocab_size=num_classes, emsize=emsize, nhid=nhid, nlayers=nlayers, dropout=dropout,
        dropouth=dropouth, dropouti=dropouti, dropoute=dropoute, wdrop=wdrop, tie_weights=tie_weights,
        seed=seed, recipe=encode(cell),
    )


@register_space
class NBNLPSpace(SearchSpace):
    """NAS-Bench-NLP through the ``SearchSpace`` protocol; cells are canonical compact recipe strings.

    Example:
        >>> import numpy as np
        >>> from zcnas.spaces import get_space
        >>> space = get_space("nbnlp")
        >>> cell = space.sample(1, np.random.default_rng(0))[0]
        >>> space.encode(space.decode(cell)) == cell, space.input_dtype, space.datasets["ptb"]
        (True, 'long', 10000)
    """

    name = "nbnlp"
    description = "NAS-Bench-NLP: recurrent cells from recipes in a 3-layer language model (Klyuchnikov et al. 2022)"
    input_shape = (70,)
    input_dtype = "long"
    datasets = {"ptb": 10000, "wikitext2": 33278}
    model_options = (
        ModelOption("emsize", int, 400, "embedding width, also the last layer's width (benchmark: 400)", minimum=1),
        ModelOption("nhid", int, 600, "hidden width of the other layers (benchmark: 600)", minimum=1),
        ModelOption("nlayers", int, 3, "recurrent layers (benchmark: 3)", minimum=1),
        ModelOption("dropout", float, 0.1, "locked dropout after the last layer (benchmark: 0.1)", minimum=0),
        ModelOption("dropouth", float, 0.25, "locked dropout between layers (benchmark: 0.25)", minimum=0),
        ModelOption("dropouti", float, 0.4, "locked dropout on the embedding output (benchmark: 0.4)", minimum=0),
        ModelOption("dropoute", float, 0.0, "word dropout on the embedding matrix (benchmark: 0)", minimum=0),
        ModelOption("wdrop", float, 0.1, "DropConnect on recurrent weights, one mask per sequence (benchmark: 0.1)",
                    minimum=0),
        ModelOption("tie_weights", bool, True, "decoder weight tied to the embedding (benchmark: true)"),
    )
    benchmark = "nbnlp"

    def encode(self, cell: Cell) -> str:
        return encode(cell)

    def decode(self, text: str) -> str:
        if not isinstance(text, str):
            raise ValueError(f"a NAS-Bench-NLP cell string is a str, not {type(text).__name__}")
        return encode(decode(text))

    def sample(self, n: int, rng: np.random.Generator, replace: bool = False) -> list[str]:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"cannot sample {n!r} cells; use an integer >= 0")
        cells: list[str] = []
        seen: set[str] = set()
        while len(cells) < n:
            cell = encode(sample_recipe(rng))
            if replace or cell not in seen:
                cells.append(cell)
                seen.add(cell)
        return cells

    def neighbours(self, cell: Cell) -> list[str]:
        return neighbours(cell)

    def size_key(self, cell: Cell) -> str:
        return size_key(cell)

    def build_model(self, cell: Cell, num_classes: int, *, seed: int | None = None, **options: Any) -> nn.Module:
        return build_model(cell, num_classes=num_classes, seed=seed, **self.check_options(options))
