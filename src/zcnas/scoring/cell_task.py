"""The work of one cell: build its network, draw its minibatch, compute its proxies, return store rows.

A task is ``(cell string, proxies, settings)``; it is a plain picklable tuple, so the same function runs
in-process, in a worker process or on a Ray worker. The space is looked up by name in the worker, so a space
used with the process or Ray backends must live in an importable module that registers it (a space defined in
a script or a test runs with the inline backend).

Example:
    >>> from zcnas.scoring.settings import ScoreSettings
    >>> s = ScoreSettings(proxies=("params",), data_source="synthetic", batch_size=2,
    ...                   space_options={"channels": 4, "cells_per_stage": 1})
    >>> rows = score_cell(("|none~0|+|none~0|none~1|+|none~0|none~1|nor_conv_1x1~2|", ("params",), s))
    >>> rows[0]["proxy"], rows[0]["status"]
    ('params', 'ok')
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from zcnas.data.batches import minibatch
from zcnas.proxies.compute import compute_proxy_results
from zcnas.scoring.settings import ScoreSettings, cell_seed

__all__ = ["build_cell_model", "cell_batch", "result_row", "score_cell"]

Task = tuple[str, tuple[str, ...], ScoreSettings]


def cell_batch(settings: ScoreSettings, cell: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The minibatch a cell is scored on (zeros of the space's input shape when only data-free proxies run)."""
    space = settings.space_obj
    if not settings.needs_data:
        dtype = torch.long if space.input_dtype == "long" else torch.float32
        return (torch.zeros((settings.batch_size, *space.input_shape), dtype=dtype),
                torch.zeros(settings.batch_size, dtype=torch.long))
    seed = settings.seed if settings.batch_mode == "fixed" else cell_seed(settings, "batch", cell) % (2**32)
    return minibatch(
        settings.data_source,
        batch_size=settings.batch_size,
        seed=seed,
        augment=settings.augment,
        num_classes=settings.num_classes if settings.data_source == "synthetic" else None,
        image_size=space.input_shape[-1] if len(space.input_shape) == 3 else 32,
        folder=settings.data_folder,
    )


def build_cell_model(settings: ScoreSettings, cell: str) -> torch.nn.Module:
    """The network of ``cell`` as ``settings`` describe it, its init seeded from the run seed and the cell."""
    space = settings.space_obj
    net = space.build_model(
        space.decode(cell),
        num_classes=settings.num_classes,
        seed=cell_seed(settings, "init", cell) % (2**63),
        **settings.space_options,
    )
    return net.double() if settings.dtype == "float64" else net


def result_row(
    cell: str, proxy: str, seed: int, value: float, status: str, reason: str, seconds: float, shared_from: str = ""
) -> dict[str, Any]:
    """One store row."""
    return {
        "arch": cell,
        "proxy": proxy,
        "seed": int(seed),
        "value": float(value),
        "status": status,
        "reason": reason,
        "seconds": float(seconds),
        "shared_from": shared_from,
    }


def score_cell(task: Task) -> list[dict[str, Any]]:
    """Score one cell with some proxies; one store row per proxy. Picklable for workers.

    An exception while building the model or the batch becomes an "error" row for every proxy of the task.
    When ``settings.torch_threads`` is set, the cell is scored with that many intra-op threads.
    """
    cell, proxies, settings = task
    start = time.perf_counter()
    threads = settings.torch_threads
    before = torch.get_num_threads()
    if threads is not None and threads != before:
        torch.set_num_threads(threads)
    try:
        net = build_cell_model(settings, cell)
        inputs, targets = cell_batch(settings, cell)
        options = {p: settings.options[p] for p in proxies if p in settings.options}
        results = compute_proxy_results(
            net, inputs, targets, list(proxies),
            seed=cell_seed(settings, "proxy", cell) % (2**63), options=options, errors="record",
        )
    except Exception as exc:  # a cell whose model raises: recorded, the run goes on
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        elapsed = time.perf_counter() - start
        return [result_row(cell, p, settings.seed, math.nan, "error", message, elapsed / len(proxies)) for p in proxies]
    finally:
        if threads is not None and threads != before:
            torch.set_num_threads(before)
    return [result_row(cell, name, settings.seed, r.value, r.status, r.reason, r.seconds) for name, r in results.items()]
