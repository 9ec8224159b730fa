"""zcnas.training: reduced-training (EcoNAS-style) proxies with cost accounting, resumable per cell and epoch.

Example:
    >>> from zcnas.training import PRESETS, TrainSettings
    >>> sorted(PRESETS)
    ['econas', 'econas+', 'full']
    >>> TrainSettings.from_preset("econas+").resolution
    16
"""

from __future__ import annotations

from zcnas.training.cost import (
    REFERENCE_BATCH,
    TRAIN_PASS_FACTOR,
    cell_flops,
    forward_flops,
    minibatch_equivalents,
    train_flops,
)
from zcnas.training.data import DATASETS, ImageData, load_dataset, subset_indices
from zcnas.training.recipe import Recipe, cosine_lr
from zcnas.training.settings import PRESETS, Preset, TrainSettings
from zcnas.training.store import ROW_SCHEMA, TrainStore, TrainStoreError, cell_key
from zcnas.training.study import TrainSummary, choose_cells, read_rows, reduced_train
from zcnas.training.trainer import CellOutcome, EpochStats, evaluate, train_cell, train_epoch

__all__ = [
    "DATASETS",
    "PRESETS",
    "REFERENCE_BATCH",
    "ROW_SCHEMA",
    "TRAIN_PASS_FACTOR",
    "CellOutcome",
    "EpochStats",
    "ImageData",
    "Preset",
    "Recipe",
    "TrainSettings",
    "TrainStore",
    "TrainStoreError",
    "TrainSummary",
    "cell_flops",
    "cell_key",
    "choose_cells",
    "cosine_lr",
    "evaluate",
    "forward_flops",
    "load_dataset",
    "minibatch_equivalents",
    "read_rows",
    "reduced_train",
    "subset_indices",
    "train_cell",
    "train_epoch",
    "train_flops",
]
