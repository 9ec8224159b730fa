"""Regularized (aging) evolution (Real et al. 2019), as the zero-cost reference notebook runs it.

The first ``population`` trained cells form the population: uniform random ones, or with warmup ``N`` the
proxy's top ``population`` of ``N`` random cells, trained in proxy order (they count toward the budget).
Then each step samples ``tournament`` members without replacement, mutates the one with the best
validation accuracy by one random edit (``space.mutate``), trains the child, appends it and removes the
oldest member. A NaN validation accuracy loses every tournament.

Move proposal (the reference notebook's zero-cost move): the child is the proxy-best of the parent's
neighbours (``space.neighbours``); with probability ``random_move`` (0.25) a random neighbour instead.
Neighbours already trained are passed over while an untrained one is left: the proposal proposes a model
to train (the notebook takes the proxy-best neighbour even when it was trained before; here that would be
an uncounted repeat, and a search whose parents keep proposing trained children would stall).

Example:
    >>> from zcnas.spaces import get_space
    >>> s = AgingEvolution(get_space("nb201"), seed=0, population=3, tournament=2)
    >>> len({s.ask() for _ in range(3)})   # nothing told yet: still filling the population at random
    3
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any

from zcnas.search.base import Searcher, register_searcher
from zcnas.search.trainer import TrainResult
from zcnas.search.warmup import proxy_best, warmup_ranking
from zcnas.spaces.base import ModelOption

__all__ = ["AgingEvolution"]


def _fitness(result: TrainResult) -> float:
    return result.val_acc if math.isfinite(result.val_acc) else -math.inf


@register_searcher
class AgingEvolution(Searcher):
    """Aging evolution with tournament selection and one-edit mutation (move: the proxy-best neighbour)."""

    name = "evolution"
    description = "regularized (aging) evolution: tournament selection, one random edit, oldest removed"
    move_kind = "flag"
    options = (
        ModelOption("population", int, 64, "population size (the reference notebook: 64)", minimum=2),
        ModelOption("tournament", int, 10, "members sampled per tournament (the reference notebook: 10)", minimum=1),
        ModelOption("random_move", float, 0.25, "move proposal: chance of a random neighbour instead of the "
                    "proxy-best (the reference notebook: 0.25)", minimum=0.0),
    )

    @classmethod
    def warmup_trained(cls, warmup: int, move: Any, options: Mapping[str, Any]) -> int:
        return min(warmup, int(options.get("population", 64))) if warmup else 0

    def setup(self) -> None:
        if self.settings["tournament"] > self.settings["population"]:
            raise ValueError(f"tournament={self.settings['tournament']} is not allowed; use at most the "
                             f"population ({self.settings['population']})")
        if self.settings["random_move"] > 1:
            raise ValueError(f"random_move={self.settings['random_move']} is not allowed; use a probability in 0..1")
        self.population: deque[TrainResult] = deque()
        self._seeds: deque[str] = deque()
        if self.warmup:
            assert self.proxy is not None
            ranking = warmup_ranking(self.space, self.proxy, self.warmup, self.rng)
            self._seeds.extend(ranking[: self.settings["population"]])
        self._initial_asked: set[str] = set()
        self.parent: TrainResult | None = None

    def ask(self) -> str:
        if len(self.history) < self.settings["population"]:
            while self._seeds:
                cell = self._seeds.popleft()
                if cell not in self.trained:
                    self._initial_asked.add(cell)
                    return cell
            cell = self.random_untrained(self.trained | self._initial_asked)
            self._initial_asked.add(cell)
            return cell
        picks = self.rng.choice(len(self.population), size=self.settings["tournament"], replace=False)
        members = [self.population[int(i)] for i in picks]
        parent = max(members, key=_fitness)  # first among equals, in sampling order
        self.parent = parent
        return self.child_of(parent.cell)

    def child_of(self, cell: str) -> str:
        """One edit of ``cell``: random, or with the move proposal the proxy-best neighbour."""
        if self.move and self.rng.random() >= self.settings["random_move"]:
            assert self.proxy is not None
            options = [self.space.encode(c) for c in self.space.neighbours(cell)]
            fresh = [c for c in options if c not in self.trained] or options
            return fresh[proxy_best(fresh, self.proxy)]
        return self.space.encode(self.space.mutate(self.space.decode(cell), self.rng))

    def tell(self, result: TrainResult) -> None:
        super().tell(result)
        self.population.append(result)
        if len(self.population) > self.settings["population"]:
            self.population.popleft()
