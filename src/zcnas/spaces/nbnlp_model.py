"""The NAS-Bench-NLP language model: an embedding, recurrent layers stepped through a recipe cell, a tied decoder.

The network is the benchmark's AWD-style model (Klyuchnikov et al. 2022, fmsnew/nas-bench-nlp-release), written
here from its description:

- ``embedding``: ``nn.Embedding(vocab, emsize)`` (the benchmark's 400), initialised uniform(-0.1, 0.1), with
  word dropout ``dropoute`` (whole rows of the matrix) in training;
- locked dropout ``dropouti`` on its output (one mask per sequence, shared over time);
- ``nlayers`` recurrent layers (400->600, 600->600, 600->400 in the benchmark: the last one has width
  ``emsize`` so the decoder can be tied), each a ``RecipeLayer`` that runs one ``RecipeCell`` per time step,
  with locked dropout ``dropouth`` between layers and ``dropout`` after the last;
- ``decoder``: ``nn.Linear(emsize, vocab)`` whose weight *is* the embedding matrix (``tie_weights``), bias zero.

Every ``linear`` node of the recipe is one ``nn.Linear`` per input (only the first one has a bias, so a node with
inputs in_0..in_k is W_0 in_0 + b + sum W_j in_j, as the benchmark's), so every recurrent weight is a layer the
proxies score. Weight drop ``wdrop`` (the benchmark's DropConnect) applies to the weights of every input other
than ``x``, with one mask per sequence. Recurrent parameters are initialised uniform(-1/sqrt(H), 1/sqrt(H)) with
H the layer's width, as the benchmark's ``CustomRNN``.

``forward(tokens)`` takes token ids of shape (batch, time), starts every hidden state at zero, and returns
next-token logits of shape (batch, time, vocab). The embedding is marked with
``zcnas.layer_marks.mark_input_entry``: it is where the proxies' continuous input enters.

This module knows nothing of the recipe codec: it takes the cell as a list of nodes in a topological order
(``zcnas.spaces.nbnlp`` makes that list).

Example:
    >>> import torch
    >>> plan = [("f", "linear", ("x", "h_prev_0")), ("h_new_0", "activation_tanh", ("f",))]
    >>> net = NBNLPNetwork(plan, vocab_size=11, emsize=4, nhid=5, nlayers=2, seed=0)
    >>> net(torch.zeros(2, 3, dtype=torch.long)).shape
    torch.Size([2, 3, 11])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from zcnas.layer_marks import mark_input_entry

__all__ = ["CELL_OPS", "NBNLPNetwork", "RecipeCell", "RecipeLayer", "WeightDropLinear"]

#: The benchmark's node operations.
CELL_OPS: tuple[str, ...] = (
    "linear", "blend", "elementwise_prod", "elementwise_sum",
    "activation_tanh", "activation_sigm", "activation_leaky_relu",
)

Node = tuple[str, str, tuple[str, ...]]

_ACTIVATIONS = {
    "activation_tanh": torch.tanh,
    "activation_sigm": torch.sigmoid,
    "activation_leaky_relu": F.leaky_relu,  # negative slope 0.01, as torch.nn.LeakyReLU()
}


def _check_rate(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name}={value!r} is not allowed; use a dropout rate in [0, 1)")
    return float(value)


class WeightDropLinear(nn.Linear):
    """``nn.Linear`` with DropConnect on its weight, one mask per sequence (the benchmark's ``wdrop``).

    The owning ``RecipeLayer`` draws the dropped weight once at the start of a sequence
    (``sequence_weights``); outside a sequence, or in eval mode, the plain weight is used.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool, p: float) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.p = _check_rate("wdrop", p)
        self._sequence_weight: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight if self._sequence_weight is None else self._sequence_weight
        return F.linear(x, weight, self.bias)


class RecipeCell(nn.Module):
    """One time step of a recipe: ``forward(x_parts, hidden) -> new hidden tuple``.

    Args:
        nodes: ``(name, op, inputs)`` in a topological order; inputs are ``x``, ``h_prev_i`` or earlier names;
            the outputs are the nodes named ``h_new_0`` .. ``h_new_{k-1}``.
        input_size: width of ``x``.
        hidden_size: width of every node and hidden state.
        wdrop: DropConnect rate on the weights of inputs other than ``x``.
    """

    def __init__(self, nodes: Sequence[Node], input_size: int, hidden_size: int, wdrop: float = 0.0) -> None:
        super().__init__()
        self.nodes: tuple[Node, ...] = tuple((str(n), str(op), tuple(ins)) for n, op, ins in nodes)
        names = [n for n, _, _ in self.nodes]
        self.num_states = 1 + max(int(n[len("h_new_"):]) for n in names if n.startswith("h_new_"))
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        linears: dict[str, nn.ModuleList] = {}
        for name, op, inputs in self.nodes:
            if op not in CELL_OPS:
                raise ValueError(f"node {name!r} has unknown op {op!r}; ops: {', '.join(CELL_OPS)}")
            if op == "linear":
                parts = []
                for j, source in enumerate(inputs):
                    width = self.input_size if source == "x" else self.hidden_size
                    if source == "x" or wdrop == 0.0:
                        parts.append(nn.Linear(width, self.hidden_size, bias=(j == 0)))
                    else:
                        parts.append(WeightDropLinear(width, self.hidden_size, bias=(j == 0), p=wdrop))
                linears[name] = nn.ModuleList(parts)
        self.linears = nn.ModuleDict(linears)

    def input_parts(self, x: torch.Tensor) -> dict[tuple[str, int], torch.Tensor]:
        """The ``x`` terms of every linear node for a whole sequence at once: {(node, input position): W x}."""
        parts = {}
        for name, op, inputs in self.nodes:
            if op == "linear":
                for j, source in enumerate(inputs):
                    if source == "x":
                        parts[(name, j)] = self.linears[name][j](x)
        return parts

    def forward(
        self, x_parts: dict[tuple[str, int], torch.Tensor], hidden: Sequence[torch.Tensor]
    ) -> tuple[torch.Tensor, ...]:
        values: dict[str, torch.Tensor] = {f"h_prev_{i}": h for i, h in enumerate(hidden)}
        for name, op, inputs in self.nodes:
            if op == "linear":
                total = None
                for j, source in enumerate(inputs):
                    term = x_parts[(name, j)] if source == "x" else self.linears[name][j](values[source])
                    total = term if total is None else total + term
                values[name] = total
            elif op == "blend":
                z, a, b = (values[s] for s in inputs)
                values[name] = z * a + (1 - z) * b
            elif op in ("elementwise_prod", "elementwise_sum"):
                total = values[inputs[0]]
                for source in inputs[1:]:
                    total = total * values[source] if op == "elementwise_prod" else total + values[source]
                values[name] = total
            else:
                values[name] = _ACTIVATIONS[op](values[inputs[0]])
        return tuple(values[f"h_new_{i}"] for i in range(self.num_states))


class RecipeLayer(nn.Module):
    """A recurrent layer: the cell stepped over time from zero hidden states; (batch, time, in) -> (batch, time, H).

    Example:
        >>> import torch
        >>> layer = RecipeLayer([("h_new_0", "activation_tanh", ("f",)), ("f", "linear", ("x", "h_prev_0"))][::-1],
        ...                     input_size=3, hidden_size=2)
        >>> layer(torch.ones(4, 5, 3)).shape
        torch.Size([4, 5, 2])
    """

    def __init__(self, nodes: Sequence[Node], input_size: int, hidden_size: int, wdrop: float = 0.0) -> None:
        super().__init__()
        self.cell = RecipeCell(nodes, input_size, hidden_size, wdrop)

    @contextmanager
    def sequence_weights(self) -> Iterator[None]:
        """Draw one DropConnect mask per weight-dropped linear for the sequence about to run (training only)."""
        dropped = [m for m in self.modules() if isinstance(m, WeightDropLinear)]
        try:
            for m in dropped:
                if self.training and m.p > 0:
                    m._sequence_weight = F.dropout(m.weight, m.p, training=True)
            yield
        finally:
            for m in dropped:
                m._sequence_weight = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps = x.shape[0], x.shape[1]
        with self.sequence_weights():
            parts = self.cell.input_parts(x)
            hidden = tuple(x.new_zeros(batch, self.cell.hidden_size) for _ in range(self.cell.num_states))
            outputs = []
            for t in range(steps):
                hidden = self.cell({key: value[:, t] for key, value in parts.items()}, hidden)
                outputs.append(hidden[0])
        return torch.stack(outputs, dim=1)


class LockedDropout(nn.Module):
    """Dropout with one mask per sequence, shared over time (the benchmark's LockedDropout); (batch, time, F)."""

    def __init__(self, p: float, name: str) -> None:
        super().__init__()
        self.p = _check_rate(name, p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - self.p) / (1 - self.p)
        return x * mask


class WordDropEmbedding(nn.Embedding):
    """``nn.Embedding`` that drops whole words (rows of the matrix) in training with rate ``p`` (``dropoute``)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, p: float) -> None:
        # the weight is left uninitialised here (the network initialises it): no wasted normal_ of the matrix
        super().__init__(num_embeddings, embedding_dim, _weight=torch.empty(num_embeddings, embedding_dim))
        self.p = _check_rate("dropoute", p)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return super().forward(tokens)
        mask = self.weight.new_empty(self.weight.shape[0], 1).bernoulli_(1 - self.p) / (1 - self.p)
        return F.embedding(tokens, self.weight * mask)


class NBNLPNetwork(nn.Module):
    """The benchmark's language model around one recipe cell.

    Args:
        nodes: the cell, ``(name, op, inputs)`` in a topological order.
        vocab_size: vocabulary (PTB 10,000; WikiText-2 33,278).
        emsize, nhid, nlayers: embedding width, hidden width, number of recurrent layers (benchmark 400, 600, 3).
        dropout, dropouth, dropouti, dropoute, wdrop: the benchmark's dropouts (output, between layers, on the
            embedding output, whole words, DropConnect on recurrent weights).
        tie_weights: the decoder's weight is the embedding matrix (the last layer then has width ``emsize``).
        seed: when given, the initial weights come from this seed without touching the global random state.
        recipe: the cell's canonical string, kept as a label.
    """

    def __init__(
        self,
        nodes: Sequence[Node],
        vocab_size: int,
        emsize: int = 400,
        nhid: int = 600,
        nlayers: int = 3,
        *,
        dropout: float = 0.1,
        dropouth: float = 0.25,
        dropouti: float = 0.4,
        dropoute: float = 0.0,
        wdrop: float = 0.1,
        tie_weights: bool = True,
        seed: int | None = None,
        recipe: str = "",
    ) -> None:
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("emsize", emsize), ("nhid", nhid), ("nlayers", nlayers)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} is not allowed; use an integer >= 1")
        self.recipe = recipe
        self.vocab_size = vocab_size
        generator = None if seed is None else torch.Generator().manual_seed(int(seed))
        with torch.random.fork_rng(devices=[]):  # module constructors draw from the global generator
            self.embedding = mark_input_entry(WordDropEmbedding(vocab_size, emsize, dropoute))
            self.input_dropout = LockedDropout(dropouti, "dropouti")
            widths = [emsize] + [nhid] * (nlayers - 1) + [emsize if tie_weights else nhid]
            self.layers = nn.ModuleList(
                RecipeLayer(nodes, widths[i], widths[i + 1], wdrop) for i in range(nlayers)
            )
            self.hidden_dropout = LockedDropout(dropouth, "dropouth")
            self.output_dropout = LockedDropout(dropout, "dropout")
            self.decoder = nn.Linear(widths[-1], vocab_size, device="meta")  # parameters set below, not drawn
        self.decoder.weight = (self.embedding.weight if tie_weights
                               else nn.Parameter(torch.empty(vocab_size, widths[-1])))
        self.decoder.bias = nn.Parameter(torch.zeros(vocab_size))
        with torch.no_grad():
            self.embedding.weight.uniform_(-0.1, 0.1, generator=generator)
            if not tie_weights:
                self.decoder.weight.uniform_(-0.1, 0.1, generator=generator)
            for layer in self.layers:
                bound = 1.0 / math.sqrt(layer.cell.hidden_size)
                for p in layer.parameters():
                    p.uniform_(-bound, bound, generator=generator)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.dim() != 2 or tokens.is_floating_point():
            raise ValueError(
                f"a NAS-Bench-NLP network takes token ids of shape (batch, time); got {tuple(tokens.shape)} "
                f"of {tokens.dtype}"
            )
        out = self.input_dropout(self.embedding(tokens))
        for i, layer in enumerate(self.layers):
            out = layer(out)
            out = self.hidden_dropout(out) if i < len(self.layers) - 1 else self.output_dropout(out)
        return self.decoder(out)
