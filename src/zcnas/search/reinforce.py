"""REINFORCE with a factorised policy: one independent softmax per decision of the space's coding.

The policy's logits start at zero (uniform). Each trained cell gives the reward ``R = val_acc``; the baseline
``b`` is a bias-corrected exponential moving average of the rewards with momentum ``ema`` (0.9), updated with
``R`` before use; the logits take one Adam step (learning rate ``lr`` = 0.01) up the gradient
``(R - b) * (onehot(choice) - softmax)`` of each decision. These are NATS-Bench's REINFORCE settings
(``exps/NATS-algos/reinforce.py``: Adam, lr 0.01, EMA momentum 0.9, reward = validation accuracy), written
anew here over numpy arrays. A NaN reward (a failed training) makes no update.

Move proposal ``k``: sample ``k`` cells from the policy and train the proxy-best of them (of those not yet
trained, while any is left: a converged policy would otherwise keep proposing its trained favourite); the
update uses that cell's choices. Without move, a sampled cell that is already trained is redrawn (up to 64
draws, the first untrained one taken): a policy that has concentrated would otherwise spend the search on
uncounted repeats.

Warmup ``N`` (pretraining; the paper does not say how, see REFERENCE section 4): score ``N`` random cells
and fit the policy to the proxy's ``elite`` (64) best of them: each decision's probabilities are the
option counts among the elite plus one (Laplace smoothing), so no option starts at zero and a larger
warmup gives a more selective elite. The search then runs REINFORCE from that policy. No model is
trained by the warmup. (An earlier version took one policy-gradient step per scored cell; over 15,625
cells that collapsed the policy onto one cell, so every later sample was a repeat.)

Example:
    >>> import numpy as np
    >>> from zcnas.spaces import get_space
    >>> s = Reinforce(get_space("nb201"), seed=0)
    >>> bool(np.allclose(s.probabilities(), 0.2))
    True
"""

from __future__ import annotations

import math

import numpy as np

from zcnas.search.base import Searcher, register_searcher
from zcnas.search.coding import coding_for
from zcnas.search.trainer import TrainResult
from zcnas.search.warmup import sort_key, warmup_sample
from zcnas.spaces.base import ModelOption

__all__ = ["Reinforce"]


class _Adam:
    """Adam ascent on one array (Kingma & Ba; beta1 0.9, beta2 0.999, eps 1e-8)."""

    def __init__(self, shape: tuple[int, ...], lr: float) -> None:
        self.lr, self.t = lr, 0
        self.m, self.v = np.zeros(shape), np.zeros(shape)

    def step(self, params: np.ndarray, grad: np.ndarray) -> None:
        self.t += 1
        self.m = 0.9 * self.m + 0.1 * grad
        self.v = 0.999 * self.v + 0.001 * grad * grad
        m_hat = self.m / (1 - 0.9**self.t)
        v_hat = self.v / (1 - 0.999**self.t)
        params += self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)


class _Ema:
    """Bias-corrected exponential moving average."""

    def __init__(self, momentum: float) -> None:
        self.momentum, self.num, self.den = momentum, 0.0, 0.0

    def update(self, value: float) -> float:
        self.num = self.momentum * self.num + (1 - self.momentum) * value
        self.den = self.momentum * self.den + (1 - self.momentum)
        return self.num / self.den


@register_searcher
class Reinforce(Searcher):
    """REINFORCE over a factorised categorical policy (move: proxy-best of k samples)."""

    name = "reinforce"
    description = "REINFORCE, one softmax per decision, moving-average baseline, Adam"
    move_kind = "count"
    options = (
        ModelOption("lr", float, 0.01, "Adam learning rate of the logits (NATS-Bench: 0.01)", minimum=0.0),
        ModelOption("ema", float, 0.9, "momentum of the reward baseline (NATS-Bench: 0.9)", minimum=0.0),
        ModelOption("elite", int, 64, "warmup: the policy is fitted to the proxy's best this many cells", minimum=1),
    )

    def setup(self) -> None:
        if self.settings["ema"] >= 1:
            raise ValueError(f"ema={self.settings['ema']} is not allowed; use a momentum in 0..1 (excluded)")
        self.coding = coding_for(self.space)
        sizes = self.coding.sizes
        self._width = max(sizes)
        self._mask = np.arange(self._width)[None, :] < np.asarray(sizes)[:, None]
        self.logits = np.zeros((len(sizes), self._width))
        self._pending: dict[str, tuple[int, ...]] = {}
        if self.warmup:
            self._pretrain()
        self._adam = _Adam(self.logits.shape, self.settings["lr"])
        self._baseline = _Ema(self.settings["ema"])

    # ------------------------------------------------------------------ policy
    def probabilities(self) -> np.ndarray:
        """(decisions, max options) array of the policy's probabilities (0 beyond a decision's options)."""
        z = np.where(self._mask, self.logits, -np.inf)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def _sample(self, n: int) -> np.ndarray:
        cum = np.cumsum(self.probabilities(), axis=1)
        u = self.rng.random((n, cum.shape[0], 1))
        return np.minimum((u > cum[None]).sum(axis=2), np.asarray(self.coding.sizes) - 1)

    def _cells(self, n: int) -> list[tuple[str, tuple[int, ...]]]:
        out: list[tuple[str, tuple[int, ...]]] = []
        for _ in range(100):
            for vec in self._sample(n - len(out)):
                choice = tuple(int(v) for v in vec)
                try:
                    out.append((self.coding.cell(choice), choice))
                except ValueError:
                    continue
            if len(out) == n:
                return out
        raise RuntimeError(f"reinforce: the policy kept sampling choices that are no cell of space {self.space.name!r}")

    def _grad(self, choice: tuple[int, ...], advantage: float) -> np.ndarray:
        onehot = np.zeros_like(self.logits)
        onehot[np.arange(len(choice)), choice] = 1.0
        return advantage * (onehot - self.probabilities())

    def _pretrain(self) -> None:
        assert self.proxy is not None
        cells = warmup_sample(self.space, self.warmup, self.rng)
        key = sort_key(self.proxy.scores(cells), self.proxy.higher_is_better)
        elite = [cells[i] for i in np.argsort(-key, kind="stable")[: self.settings["elite"]]]
        counts = np.zeros_like(self.logits)
        for cell in elite:
            counts[np.arange(len(self.coding.sizes)), self.coding.vector(cell)] += 1.0
        self.logits = np.where(self._mask, np.log(counts + 1.0), 0.0)

    # ------------------------------------------------------------------ ask / tell
    def ask(self) -> str:
        if self.move:
            assert self.proxy is not None
            pairs = self._cells(int(self.move))
            pairs = [p for p in pairs if p[0] not in self.trained] or pairs
            scores = sort_key(self.proxy.scores([c for c, _ in pairs]), self.proxy.higher_is_better)
            cell, choice = pairs[int(np.argmax(scores))]
        else:
            cell, choice = self._cells(1)[0]
            if cell in self.trained:  # resample: the policy restricted to untrained cells (up to 64 draws)
                cell, choice = next(((c, v) for c, v in self._cells(64) if c not in self.trained), (cell, choice))
        self._pending[cell] = choice
        return cell

    def tell(self, result: TrainResult) -> None:
        super().tell(result)
        choice = self._pending.pop(result.cell, None)
        if choice is None:
            choice = self.coding.vector(result.cell)
        self._pending.clear()
        if not math.isfinite(result.val_acc):
            return
        b = self._baseline.update(result.val_acc)
        self._adam.step(self.logits, self._grad(choice, result.val_acc - b))
