"""The training recipe: SGD with Nesterov momentum, weight decay, a per-epoch cosine learning rate.

The reference's reduced-training script (``nasbench2_train.py``) trains with SGD, lr 0.1, momentum 0.9,
Nesterov, weight decay 5e-4 and a cosine schedule; NAS-Bench-201 itself trains the same way. The learning rate
of epoch ``e`` (0-based) of a ``T``-epoch schedule is ``lr * (1 + cos(pi * e / T)) / 2``, the value PyTorch's
``CosineAnnealingLR(T_max=T, eta_min=0)`` gives when stepped once per epoch. It depends only on ``e`` and
``T``, so a run stopped after ``k < T`` epochs has exactly the first ``k`` epochs of the full run, and a resumed
run needs no scheduler state.

Example:
    >>> recipe = Recipe()
    >>> recipe.lr_at(0, 40), round(recipe.lr_at(20, 40), 6)
    (0.1, 0.05)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch

__all__ = ["Recipe", "cosine_lr"]


def cosine_lr(base_lr: float, epoch: int, schedule_epochs: int) -> float:
    """``base_lr * (1 + cos(pi * epoch / schedule_epochs)) / 2`` for a 0-based ``epoch``.

    Example:
        >>> cosine_lr(0.1, 0, 10), round(cosine_lr(0.1, 5, 10), 6), round(cosine_lr(0.1, 10, 10), 6)
        (0.1, 0.05, 0.0)
    """
    if not 0 <= epoch <= schedule_epochs:
        raise ValueError(f"epoch={epoch} is not allowed; use 0..{schedule_epochs} for a {schedule_epochs}-epoch schedule")
    return base_lr * (1.0 + math.cos(math.pi * epoch / schedule_epochs)) / 2.0


@dataclass(frozen=True)
class Recipe:
    """Optimiser and schedule settings (the reference's by default).

    Attributes:
        lr: initial learning rate.
        momentum: SGD momentum.
        nesterov: Nesterov momentum.
        weight_decay: L2 weight decay on every parameter (as ``torch.optim.SGD`` applies it).
        batch_size: training minibatch size.
    """

    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    batch_size: int = 64

    def __post_init__(self) -> None:
        for name in ("lr", "momentum", "weight_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name}={value!r} is not allowed; use a finite number >= 0")
        if self.lr == 0:
            raise ValueError("lr=0 is not allowed; use a number > 0")
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0; set momentum or nesterov=False")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size={self.batch_size!r} is not allowed; use an integer >= 1")

    def optimizer(self, parameters: Iterable[torch.nn.Parameter]) -> torch.optim.SGD:
        """A fresh SGD optimiser over ``parameters`` at the initial learning rate."""
        return torch.optim.SGD(parameters, lr=self.lr, momentum=self.momentum, nesterov=self.nesterov,
                               weight_decay=self.weight_decay)

    def lr_at(self, epoch: int, schedule_epochs: int) -> float:
        """The learning rate of 0-based ``epoch`` in a ``schedule_epochs``-long cosine schedule."""
        return cosine_lr(self.lr, epoch, schedule_epochs)
