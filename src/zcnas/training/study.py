"""``reduced_train``: the library entry point of ``zcnas reduced-train`` (train cells at reduced settings).

Example:
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> summary = reduced_train("nb201", 2, 0, "econas", out, epochs=1, train_fraction=0.02,
    ...                         space_options={"cells_per_stage": 1}, quiet=True)  # doctest: +SKIP
    >>> summary.trained, len(read_rows(out))  # doctest: +SKIP
    (2, 2)
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from zcnas.spaces import get_space
from zcnas.training.data import ImageData, load_dataset, subset_indices
from zcnas.training.settings import MAX_SEED, PRESETS, TrainSettings, _int
from zcnas.training.store import TrainStore
from zcnas.training.trainer import train_cell

__all__ = ["TrainSummary", "reduced_train", "read_rows", "choose_cells"]


@dataclass(frozen=True)
class TrainSummary:
    """What a ``reduced_train`` call did.

    Attributes:
        out: the run folder.
        cells: cells asked for.
        done_before: cells already finished in the folder.
        trained: cells finished by this call.
        resumed: cell -> the number of finished epochs its checkpoint held when this call continued it.
        epochs_trained: epochs trained by this call.
        seconds: wall-clock of this call.
        finished: every cell is done (False when the time limit stopped the call; rerun to continue).
    """

    out: Path
    cells: int
    done_before: int
    trained: int
    resumed: dict[str, int] = field(default_factory=dict)
    epochs_trained: int = 0
    seconds: float = 0.0
    finished: bool = True


def choose_cells(space: Any, sample: int | None, seed: int, cells: Sequence[Any] | None) -> list[str]:
    """The cells of a run: ``cells`` as given, or a seeded uniform sample (``space.sample(n, default_rng(seed))``,
    the same draw as ``zcnas score --sample n --seed seed``); exactly one of the two.

    Example:
        >>> choose_cells("nb201", 2, 0, None) == choose_cells("nb201", 2, 0, None)
        True
    """
    space = get_space(space)
    if (sample is None) == (cells is None):
        raise ValueError("choose exactly one of sample=N and cells=[...]")
    if cells is not None:
        chosen = list(dict.fromkeys(space.encode(c) for c in cells))
        if not chosen:
            raise ValueError("cells=[] lists no cells; give at least one")
        return chosen
    upper = space.size
    sample = _int("sample", sample, 1, upper)
    seed = _int("seed", seed, 0, MAX_SEED)
    return [space.encode(c) for c in space.sample(sample, np.random.default_rng(seed))]


def read_rows(out: str | os.PathLike[str]) -> pd.DataFrame:
    """The per-cell-and-epoch table of a run folder (finished cells only), read-only.

    Example:
        >>> read_rows("runs/eco").groupby("epoch")["val_acc"].mean()  # doctest: +SKIP
    """
    return TrainStore(out, read_only=True).rows()


def reduced_train(
    space: str = "nb201",
    sample: int | None = None,
    seed: int = 0,
    preset: str = "econas",
    out: str | os.PathLike[str] | None = None,
    *,
    cells: Sequence[Any] | None = None,
    epochs: int | None = None,
    resolution: int | None = None,
    channels: int | None = None,
    train_fraction: float | None = None,
    schedule_epochs: int | None = None,
    batch_size: int | None = None,
    dataset: str = "cifar10",
    augment: bool = True,
    threads: int | None = None,
    space_options: dict[str, Any] | None = None,
    time_limit: float | None = None,
    quiet: bool = False,
) -> TrainSummary:
    """Train a sample of cells at a preset's reduced settings into ``out``, resumably, one row per cell and epoch.

    Every argument is checked before anything is written. Rerunning with the same arguments continues a run
    that was stopped or killed: finished cells are skipped, the cell in flight resumes after its last finished
    epoch, and the result equals that of an uninterrupted run (on CPU with the same thread count).

    Args:
        space: a registered image space.
        sample: train a seeded uniform sample of this many cells (the cells ``zcnas score --sample`` draws).
        seed: the run seed: the sample, every cell's init, shuffles and crops, the training subset.
        preset: ``econas`` (r8c4), ``econas+`` (r16c8) or ``full`` (see ``zcnas.training.PRESETS``).
        out: the run folder.
        cells: train these cells instead of a sample.
        epochs, resolution, channels, train_fraction, schedule_epochs, batch_size: override the preset.
        dataset: ``cifar10`` or ``cifar100`` (the subsets in the data folder; their test images validate).
        augment: the reference's random crop and flip on training batches.
        threads: torch intra-op threads (default 1; recorded, since float sums depend on it).
        space_options: other ``build_model`` options of the space, e.g. ``{"cells_per_stage": 1}``.
        time_limit: stop after the first epoch that ends this many seconds after the start (checkpoint
            written); rerun to continue.
        quiet: no progress bar.

    Returns:
        A ``TrainSummary``.

    Raises:
        ValueError: a bad argument (one sentence naming it and what is allowed).
        zcnas.training.TrainStoreError: ``out`` was made with other settings, or is in use.
    """
    if out is None:
        raise ValueError("out=None is not allowed; give the run folder")
    if preset not in PRESETS:
        raise ValueError(f"preset {preset!r} is not known; use one of: {', '.join(PRESETS)}")
    if not isinstance(quiet, bool):
        raise ValueError(f"quiet={quiet!r} is not allowed; use true or false")
    if time_limit is not None and (isinstance(time_limit, bool) or not isinstance(time_limit, (int, float))
                                   or not time_limit > 0):
        raise ValueError(f"time_limit={time_limit!r} is not allowed; use a number of seconds > 0")
    threads = 1 if threads is None else _int("threads", threads, 1)
    settings = TrainSettings.from_preset(
        preset, space=space, epochs=epochs, resolution=resolution, channels=channels,
        train_fraction=train_fraction, schedule_epochs=schedule_epochs, batch_size=batch_size,
        space_options=space_options, dataset=dataset, augment=augment, seed=seed, torch_threads=threads)
    chosen = choose_cells(settings.space, sample, seed, cells)
    began = time.perf_counter()
    deadline = None if time_limit is None else time.monotonic() + float(time_limit)
    with TrainStore(out, settings.config()) as store:
        done = store.done_cells()
        todo = [c for c in chosen if c not in done]
        data = _load_data(settings)
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        resumed: dict[str, int] = {}
        trained = epochs_trained = 0
        finished = True
        bar = tqdm(total=len(chosen), initial=len(chosen) - len(todo), disable=quiet, unit="cell",
                   desc=f"reduced-train {settings.preset}")
        try:
            for cell in todo:
                outcome = train_cell(cell, settings, data, store, deadline=deadline,
                                     on_epoch=lambda row: bar.set_postfix(epoch=row["epoch"],
                                                                          val_acc=f"{row['val_acc']:.1f}"))
                if outcome.resumed_from:
                    resumed[cell] = outcome.resumed_from
                epochs_trained += outcome.epochs_trained
                if not outcome.finished:
                    finished = False
                    break
                trained += 1
                bar.update(1)
                if deadline is not None and time.monotonic() > deadline and trained < len(todo):
                    finished = False
                    break
        finally:
            bar.close()
            torch.set_num_threads(previous)
        if finished:
            store.compact()
    return TrainSummary(Path(out), len(chosen), len(chosen) - len(todo), trained, resumed, epochs_trained,
                        time.perf_counter() - began, finished)


def _load_data(settings: TrainSettings) -> ImageData:
    """The run's images in memory: the seeded training subset and the validation images, at its resolution."""
    train_x, train_y, val_x, val_y = load_dataset(settings.dataset)
    keep = subset_indices(len(train_y), settings.train_fraction,
                          np.random.default_rng(settings.cell_seed("subset", "")))
    return ImageData(train_x[keep], train_y[keep], val_x, val_y, resolution=settings.resolution,
                     augment=settings.augment)
