"""Train one cell at reduced settings, epoch by epoch, with a checkpoint after every epoch.

Everything random in a cell's run is a function of the run seed, the cell string and the epoch: the init
(``settings.cell_seed("init", cell)``) and, per epoch, one ``numpy.random.Generator`` seeded with
``settings.cell_seed("data", cell, epoch)`` that draws the shuffle and then the crops and flips batch by
batch. So the random state at the start of epoch ``e`` is the epoch number itself, and a checkpoint (model,
optimiser with its momentum buffers, BatchNorm statistics, the finished epochs' rows) is all a resumed run
needs to continue bit for bit, on CPU with the same thread count. The learning rate of each epoch is set from
the cosine formula (``Recipe.lr_at``), so there is no scheduler state either.

Example:
    >>> import numpy as np, torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    >>> x = np.random.default_rng(0).integers(0, 255, (8, 2, 2, 3)).astype(np.uint8); y = np.arange(8) % 2
    >>> from zcnas.training.data import ImageData
    >>> data = ImageData(x, y, x, y, resolution=2, augment=False)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> stats = train_epoch(model, opt, data.train_batches(np.random.default_rng(0), 4))
    >>> stats.samples, stats.finite
    (8, True)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from zcnas.training.cost import cell_flops, minibatch_equivalents
from zcnas.training.data import ImageData
from zcnas.training.settings import TrainSettings
from zcnas.training.store import TrainStore

__all__ = ["CellOutcome", "EpochStats", "evaluate", "train_cell", "train_epoch"]

#: Validation batch size (eval mode: BatchNorm uses running statistics, so it does not change the result).
EVAL_BATCH = 250


@dataclass(frozen=True)
class EpochStats:
    """Mean loss and accuracy (%) over an epoch's samples; ``finite`` is False once a loss was not finite."""

    loss: float
    accuracy: float
    samples: int
    finite: bool


def train_epoch(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> EpochStats:
    """One pass of SGD over ``batches`` (train mode); stops at the first non-finite loss."""
    model.train()
    total, correct, seen = 0.0, 0, 0
    for inputs, targets in batches:
        optimizer.zero_grad(set_to_none=True)
        logits = model(inputs)
        loss = F.cross_entropy(logits, targets)
        if not torch.isfinite(loss):
            return EpochStats(math.nan, math.nan, seen + len(targets), False)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(targets)
        correct += int((logits.detach().argmax(1) == targets).sum())
        seen += len(targets)
    return EpochStats(total / seen, 100.0 * correct / seen, seen, True)


def evaluate(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
             batch_size: int = EVAL_BATCH) -> tuple[float, float]:
    """``(mean loss, accuracy %)`` of ``model`` in eval mode (NaN loss when the outputs are not finite)."""
    model.eval()
    total, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(targets), batch_size):
            logits = model(inputs[start:start + batch_size])
            y = targets[start:start + batch_size]
            total += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
    n = len(targets)
    return (total / n if math.isfinite(total) else math.nan), 100.0 * correct / n


@dataclass(frozen=True)
class CellOutcome:
    """What ``train_cell`` did: the cell's rows so far, the epoch it started from, whether it finished."""

    rows: list[dict[str, Any]]
    resumed_from: int
    epochs_trained: int
    finished: bool


def _row(cell: str, epoch: int, lr: float, stats: EpochStats | None, val: tuple[float, float],
         flops: tuple[int, int], cost: float, cum_cost: float, seconds: float, eval_seconds: float,
         reason: str = "") -> dict[str, Any]:
    nan = math.nan
    return {
        "cell": cell, "epoch": int(epoch), "lr": float(lr),
        "train_loss": stats.loss if stats else nan, "train_acc": stats.accuracy if stats else nan,
        "val_loss": float(val[0]), "val_acc": float(val[1]), "samples": stats.samples if stats else 0,
        "flops_per_sample": int(flops[0]), "full_flops_per_sample": int(flops[1]),
        "cost": float(cost), "cum_cost": float(cum_cost), "seconds": float(seconds),
        "eval_seconds": float(eval_seconds), "status": "nan" if reason else "ok", "reason": reason,
    }


def train_cell(cell: str, settings: TrainSettings, data: ImageData, store: TrainStore, *,
               deadline: float | None = None,
               on_epoch: Callable[[dict[str, Any]], None] | None = None) -> CellOutcome:
    """Train ``cell`` for ``settings.epochs`` epochs (or what its checkpoint lacks), one row per epoch.

    Args:
        cell: the cell's ``encode``\\d string.
        settings: the run's settings.
        data: the images, at ``settings.resolution``.
        store: the run folder (checkpoint after each epoch; the cell's part when it finishes).
        deadline: a ``time.monotonic()`` value; after an epoch that ends past it the cell stops with its
            checkpoint written (``finished=False``) and a rerun continues it.
        on_epoch: called with each new row.

    Returns:
        A ``CellOutcome``. A non-finite training loss ends the cell: that epoch and the later ones get rows
        with status "nan", NaN accuracies and the reason.
    """
    space = settings.space_obj
    model = space.build_model(space.decode(cell), settings.num_classes,
                              seed=settings.cell_seed("init", cell) % (2**63), **settings.model_options)
    optimizer = settings.recipe.optimizer(model.parameters())
    flops = cell_flops(space, space.decode(cell), settings.num_classes, settings.model_options, settings.resolution)
    rows: list[dict[str, Any]] = []
    start = 0
    state = store.load_checkpoint(cell)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        rows, start = [dict(r) for r in state["rows"]], int(state["epoch"])
    cum_cost = rows[-1]["cum_cost"] if rows else 0.0
    for epoch in range(start, settings.epochs):
        lr = settings.recipe.lr_at(epoch, settings.schedule_epochs)
        for group in optimizer.param_groups:
            group["lr"] = lr
        rng = np.random.default_rng(settings.cell_seed("data", cell, epoch))
        began = time.perf_counter()
        stats = train_epoch(model, optimizer, data.train_batches(rng, settings.recipe.batch_size))
        seconds = time.perf_counter() - began
        cost = minibatch_equivalents(flops[0], stats.samples, flops[1])
        cum_cost += cost
        if not stats.finite:
            reason = f"training loss not finite in epoch {epoch + 1}"
            rows.append(_row(cell, epoch + 1, lr, stats, (math.nan, math.nan), flops, cost, cum_cost, seconds, 0.0,
                             reason))
            rows.extend(_row(cell, e + 1, settings.recipe.lr_at(e, settings.schedule_epochs), None,
                             (math.nan, math.nan), flops, 0.0, cum_cost, 0.0, 0.0, reason)
                        for e in range(epoch + 1, settings.epochs))
            break
        began = time.perf_counter()
        val = evaluate(model, data.val_inputs, data.val_targets)
        rows.append(_row(cell, epoch + 1, lr, stats, val, flops, cost, cum_cost, seconds, time.perf_counter() - began))
        if on_epoch is not None:
            on_epoch(rows[-1])
        if epoch + 1 < settings.epochs:
            store.save_checkpoint(cell, epoch + 1, model, optimizer, rows)
            if deadline is not None and time.monotonic() > deadline:
                return CellOutcome(rows, start, epoch + 1 - start, False)
    store.write_cell(cell, rows)
    return CellOutcome(rows, start, len(rows) - start, True)
