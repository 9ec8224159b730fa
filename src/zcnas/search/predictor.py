"""A binary relation predictor in the spirit of BRP-NAS (Dudziak et al. 2020), searched in rounds as EAGLE.

The predictor: a graph convolutional network over each cell's graph (``coding.graph``: node labels one-hot,
the adjacency made symmetric with self-loops and normalised as ``D^-1/2 (A + A^T + I) D^-1/2``), ``layers``
layers of ``relu(A_hat H W)`` with dropout, the nodes averaged into one embedding; a linear layer over the
two embeddings ``[e_a, e_b]`` gives the logit of "a is better than b". It is trained with binary cross
entropy on every ordered pair inside a minibatch of cells whose accuracies differ (AdamW, cosine schedule).
Because the head is linear, ``logit(a, b) - logit(b, a) = w . (e_a - e_b)``, so ranking by ``w . e``
orders cells as the predictor's pairwise verdicts do; candidates are ranked that way.

The search (EAGLE's iterative rounds, REFERENCE section 4): round 1 trains ``round_size`` (20) random cells;
each later round ``r`` retrains the predictor on every trained cell (``epochs * min(r, 5)`` epochs of
batches of ``batch * min(r, 5)`` cells, EAGLE's 50r epochs and batch 12r) and trains the 10 best-predicted
untrained cells plus 10 drawn at random from the top ``1/2^min(r-1, 4)`` of the predicted ranking. EAGLE
stops after 5 rounds (100 models); here the rounds go on until the budget, the fraction staying at 1/16.
The model is kept across rounds (each round continues training it).

Warmup ``N``: before round 1 the predictor is trained on the proxy scores of ``N`` random cells (pairs ordered
by the proxy, NaN last; ``warmup_epochs`` epochs of ``warmup_batch`` cells), and round 1 takes 10
best-predicted cells plus 10 random from the top half instead of 20 random ones.

Deviations from EAGLE's settings, each an option: ``hidden`` (EAGLE 600), ``epochs`` per round unit (10;
EAGLE 50), no early stopping (EAGLE: patience 35 on a held-out part, which 20 trained cells hardly allow); the
defaults are sized so a 300-model search takes seconds on two CPU cores (docs/results/search.md).

Example:
    >>> from zcnas.spaces import get_space
    >>> s = BinaryPredictor(get_space("nb201"), seed=0)
    >>> len({s.ask() for _ in range(3)})
    3
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from zcnas.search.base import Searcher, register_searcher
from zcnas.search.coding import CellCoding, coding_for
from zcnas.search.warmup import sort_key, warmup_sample
from zcnas.spaces.base import ModelOption

__all__ = ["BinaryPredictor", "GraphBatch", "RelationGCN", "fit_pairs"]

#: Spaces up to this size are ranked whole each round; larger ones through ``candidates`` sampled cells.
_RANK_ALL_UP_TO = 200_000


class GraphBatch:
    """Cells as stacked tensors: normalised adjacency (n, V, V) and node labels (n, V)."""

    def __init__(self, coding: CellCoding, cells: Sequence[str]) -> None:
        adjs, labels = [], []
        for cell in cells:
            a, lab = coding.graph(cell)
            adjs.append(np.asarray(a, dtype=np.float32))
            labels.append(np.asarray(lab, dtype=np.int64))
        shapes = {a.shape for a in adjs}
        if len(shapes) > 1:
            raise ValueError("cells of different graph sizes cannot share one batch; pad them in the coding")
        a = np.stack(adjs)
        a = a + np.transpose(a, (0, 2, 1)) + np.eye(a.shape[1], dtype=np.float32)[None]
        a = np.minimum(a, 1.0)
        d = 1.0 / np.sqrt(a.sum(axis=2))
        self.adj = torch.from_numpy(a * d[:, :, None] * d[:, None, :])
        self.labels = torch.from_numpy(np.stack(labels))
        self.cells = list(cells)

    def take(self, index: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(index)
        return self.adj[index], self.labels[index]

    def __len__(self) -> int:
        return len(self.cells)


class RelationGCN(nn.Module):
    """The GCN and the pairwise head; parameters drawn from ``generator`` (global RNG untouched)."""

    def __init__(self, num_labels: int, hidden: int, layers: int, dropout: float, generator: torch.Generator) -> None:
        super().__init__()
        self.embed = nn.Parameter(torch.empty(num_labels, hidden))
        self.weights = nn.ParameterList([nn.Parameter(torch.empty(hidden, hidden)) for _ in range(layers)])
        self.biases = nn.ParameterList([nn.Parameter(torch.zeros(hidden)) for _ in range(layers)])
        self.head = nn.Parameter(torch.empty(2, hidden))
        self.head_bias = nn.Parameter(torch.zeros(()))
        self.dropout, self.generator = dropout, generator
        with torch.no_grad():
            bound = 1.0 / math.sqrt(hidden)
            for p in [self.embed, *self.weights, self.head]:
                p.uniform_(-bound, bound, generator=generator)

    def _drop(self, h: torch.Tensor) -> torch.Tensor:
        if not self.training or self.dropout == 0:
            return h
        keep = torch.rand(h.shape, generator=self.generator) >= self.dropout
        return h * keep / (1.0 - self.dropout)

    def embedding(self, adj: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(n, hidden) graph embeddings: the mean of the last layer's node states."""
        # a one-hot product, not ``self.embed[labels]``: the backward of indexing sums into shared rows in a
        # thread-dependent order, which made seeded searches differ from run to run
        h = nn.functional.one_hot(labels, self.embed.shape[0]).to(self.embed.dtype) @ self.embed
        for w, b in zip(self.weights, self.biases):
            h = self._drop(torch.relu(adj @ h @ w + b))
        return h.mean(dim=1)

    def pair_logits(self, emb: torch.Tensor) -> torch.Tensor:
        """(n, n) logits of "row better than column"."""
        u = emb @ self.head[0]
        v = emb @ self.head[1]
        return u[:, None] + v[None, :] + self.head_bias

    def score(self, adj: torch.Tensor, labels: torch.Tensor, chunk: int = 4096) -> np.ndarray:
        """The ranking score ``(w_a - w_b) . e`` of each graph (larger: predicted better), no gradients."""
        was = self.training
        self.eval()
        out = []
        with torch.no_grad():
            w = self.head[0] - self.head[1]
            for i in range(0, len(labels), chunk):
                out.append((self.embedding(adj[i : i + chunk], labels[i : i + chunk]) @ w).numpy())
        self.train(was)
        return np.concatenate(out) if out else np.zeros(0)


def fit_pairs(
    model: RelationGCN,
    graphs: GraphBatch,
    target: np.ndarray,
    *,
    epochs: int,
    batch: int,
    lr: float,
    weight_decay: float,
    generator: torch.Generator,
) -> float:
    """Train ``model`` to order ``graphs`` by ``target`` (larger better; NaN below everything); last loss.

    Each epoch shuffles the cells into batches of ``batch``; a step's loss is the mean binary cross entropy
    over the ordered pairs of the batch whose targets differ. AdamW with a cosine schedule over all steps.
    """
    n = len(graphs)
    key = torch.from_numpy(np.where(np.isnan(target), -np.inf, target).astype(np.float64))
    steps_per_epoch = max(1, math.ceil(n / batch))
    total = epochs * steps_per_epoch
    if n < 2 or total == 0:
        return math.nan
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    model.train()
    loss_value = math.nan
    for _ in range(epochs):
        perm = torch.randperm(n, generator=generator)
        for s in range(steps_per_epoch):
            idx = perm[s * batch : (s + 1) * batch]
            if len(idx) < 2:
                continue
            y = key[idx]
            better = (y[:, None] > y[None, :]).float()
            mask = y[:, None] != y[None, :]
            if not bool(mask.any()):
                continue
            logits = model.pair_logits(model.embedding(*graphs.take(idx)))
            loss = nn.functional.binary_cross_entropy_with_logits(logits[mask], better[mask])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_value = float(loss.detach())
    return loss_value


@register_searcher
class BinaryPredictor(Searcher):
    """BRP-NAS-style search: a pairwise GCN predictor picks each round's cells."""

    name = "predictor"
    description = "binary relation predictor (BRP-NAS style GCN on cell graphs), trained in rounds of 20"
    options = (
        ModelOption("round_size", int, 20, "cells trained per round (EAGLE: 20)", minimum=2),
        ModelOption("hidden", int, 64, "GCN width (EAGLE: 600)", minimum=1),
        ModelOption("layers", int, 4, "GCN layers (EAGLE: 4)", minimum=1),
        ModelOption("dropout", float, 0.2, "dropout after each GCN layer (EAGLE: 0.2)", minimum=0.0),
        ModelOption("lr", float, 3.5e-4, "AdamW learning rate (EAGLE: 3.5e-4)", minimum=0.0),
        ModelOption("weight_decay", float, 5e-4, "AdamW weight decay (EAGLE: 5e-4)", minimum=0.0),
        ModelOption("epochs", int, 10, "epochs per round unit: round r trains epochs*min(r,5) (EAGLE: 50)", minimum=0),
        ModelOption("batch", int, 12, "cells per batch unit: round r uses batch*min(r,5) (EAGLE: 12)", minimum=2),
        ModelOption("warmup_epochs", int, 50, "epochs on the warmup's proxy scores (EAGLE's NB-101 config: 50)",
                    minimum=0),
        ModelOption("warmup_batch", int, 256, "cells per batch on the proxy scores (EAGLE's NB-101 config: 256)",
                    minimum=2),
        ModelOption("candidates", int, 10000, "cells ranked per round when the space is too large to rank whole",
                    minimum=1),
    )

    @classmethod
    def warmup_trained(cls, warmup: int, move: Any, options: Mapping[str, Any]) -> int:
        return 0

    def setup(self) -> None:
        if self.settings["dropout"] >= 1:
            raise ValueError(f"dropout={self.settings['dropout']} is not allowed; use a probability below 1")
        self.coding = coding_for(self.space)
        self.generator = torch.Generator().manual_seed(int(self.rng.integers(2**63 - 1)))
        s = self.settings
        self.model = RelationGCN(self.coding.num_labels, s["hidden"], s["layers"], s["dropout"], self.generator)
        self.round = 0
        self._queue: deque[str] = deque()
        self._pool: GraphBatch | None = None
        self._graphs: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        if self.warmup:
            assert self.proxy is not None
            cells = warmup_sample(self.space, self.warmup, self.rng)
            scores = sort_key(self.proxy.scores(cells), self.proxy.higher_is_better)
            fit_pairs(self.model, GraphBatch(self.coding, cells), scores, epochs=s["warmup_epochs"],
                      batch=s["warmup_batch"], lr=s["lr"], weight_decay=s["weight_decay"], generator=self.generator)

    # ------------------------------------------------------------------ rounds
    def _candidates(self) -> GraphBatch:
        size = self.space.size
        if size is not None and size <= _RANK_ALL_UP_TO:
            if self._pool is None:
                self._pool = _space_graphs(self.space, self.coding)
            return self._pool
        cells = list(dict.fromkeys(self.space.encode(c) for c in self.space.sample(
            min(self.settings["candidates"], size or self.settings["candidates"]), self.rng)))
        return GraphBatch(self.coding, cells)

    def _ranked_untrained(self) -> list[str]:
        pool = self._candidates()
        order = np.argsort(-self.model.score(pool.adj, pool.labels), kind="stable")
        return [pool.cells[i] for i in order if pool.cells[i] not in self.trained]

    def _next_round(self) -> None:
        self.round += 1
        r, s, half = self.round, self.settings, self.settings["round_size"] // 2
        if r == 1 and not self.warmup:
            chosen: set[str] = set()
            for _ in range(s["round_size"]):
                cell = self.random_untrained(self.trained | chosen)
                chosen.add(cell)
                self._queue.append(cell)
            return
        if r > 1:
            cells = [res.cell for res in self.history]
            target = np.array([res.val_acc for res in self.history], dtype=float)
            unit = min(r - 1, 5)
            fit_pairs(self.model, GraphBatch(self.coding, cells), target, epochs=s["epochs"] * unit,
                      batch=s["batch"] * unit, lr=s["lr"], weight_decay=s["weight_decay"], generator=self.generator)
        ranked = self._ranked_untrained()
        best, rest = ranked[:half], ranked[half:]
        top = rest[: max(1, math.ceil(len(rest) / 2 ** min(r if r == 1 else r - 1, 4)))]
        take = min(s["round_size"] - len(best), len(top))
        picks = self.rng.choice(len(top), size=take, replace=False) if take else []
        self._queue.extend(best)
        self._queue.extend(top[int(i)] for i in picks)

    def ask(self) -> str:
        while True:
            while self._queue:
                cell = self._queue.popleft()
                if cell not in self.trained:
                    return cell
            self._next_round()


_POOLS: dict[int, tuple[Any, Any, GraphBatch]] = {}


def _space_graphs(space: Any, coding: CellCoding) -> GraphBatch:
    """Every cell of ``space`` as one ``GraphBatch`` (built once per space and coding)."""
    hit = _POOLS.get(id(coding))
    if hit is not None and hit[0] is space and hit[1] is coding:
        return hit[2]
    pool = GraphBatch(coding, [space.encode(c) for c in space.cells()])
    _POOLS[id(coding)] = (space, coding, pool)
    return pool
