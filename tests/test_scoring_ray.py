"""score_many on a real local Ray instance, with a Ray worker killed in the middle of the run."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from zcnas.scoring.runner import ScoreSettings, score_many
from zcnas.scoring.store import ResultStore
from zcnas.spaces import nb201


def busy_ray_workers() -> list[int]:
    """PIDs of Ray worker processes currently running a task (their title reads 'ray::<function>')."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if title.startswith("ray::") and "IDLE" not in title and "_ray_call" in title:
            pids.append(int(entry.name))
    return pids


def test_ray_backend_survives_a_killed_worker(tmp_path):
    ray = pytest.importorskip("ray")
    if not Path("/proc").exists():
        pytest.skip("needs /proc to find Ray worker processes")
    archs = nb201.sample(12, np.random.default_rng(11))
    settings = ScoreSettings(proxies=("grasp", "synflow"), data_source="synthetic", batch_size=16,
                             space_options={"channels": 8, "cells_per_stage": 1})
    killed: list[int] = []
    out = tmp_path / "ray"

    def killer() -> None:
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            if out.exists() and list(out.glob("part-*.parquet")):
                for pid in busy_ray_workers():
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    break
            time.sleep(0.02)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        summary = score_many(archs, settings, out, backend="ray", workers=2, quiet=True)
    finally:
        if ray.is_initialized():
            ray.shutdown()
    thread.join(timeout=1)
    assert killed, "no Ray worker was caught running a task; the test proved nothing"
    assert summary.errors == 0
    # Ray workers run torch on one thread; the same thread count gives the same floating-point sums.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        score_many(archs, settings, tmp_path / "inline", quiet=True)
    finally:
        torch.set_num_threads(threads)
    with_kill = ResultStore(out, read_only=True).pivot()
    uninterrupted = ResultStore(tmp_path / "inline", read_only=True).pivot()
    pd.testing.assert_frame_equal(with_kill, uninterrupted)
