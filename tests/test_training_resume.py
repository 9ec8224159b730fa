"""A real ``kill -9`` of a real training process: the rerun resumes at the cell and epoch where it stopped and
ends with the same table as an uninterrupted run (every column but the wall-clock ones)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import shared_data_dir

from zcnas.training import TrainStore, read_rows, reduced_train

pytestmark = pytest.mark.skipif(not (shared_data_dir() / "cifar10").is_dir(),
                                reason="the shared CIFAR-10 subset is not available")

SRC = Path(__file__).resolve().parents[1] / "src"
ARGS = dict(epochs=4, train_fraction=0.1, space_options={"cells_per_stage": 1}, threads=1)
TIMING = ["seconds", "eval_seconds"]
RUN = ("import sys; from zcnas.training import reduced_train; "
       "reduced_train('nb201', 3, 0, 'econas', sys.argv[1], quiet=True, **{args!r})")


def _table(folder: Path):
    return read_rows(folder).drop(columns=TIMING).sort_values(["cell", "epoch"]).reset_index(drop=True)


def _second_cell_in_flight(folder: Path) -> bool:
    """True once a cell is finished and the next one has a checkpoint (some of its epochs done)."""
    rows, checkpoints = folder / "rows", folder / "checkpoints"
    return rows.is_dir() and any(rows.glob("*.parquet")) and checkpoints.is_dir() and any(checkpoints.glob("*.pt"))


def test_kill_9_resumes_at_the_cell_and_epoch_where_it_stopped(tmp_path):
    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", RUN.format(args=ARGS), str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 600
        while not _second_cell_in_flight(out):
            assert proc.poll() is None, f"the run ended before it could be killed: {proc.stdout.read()!r}"
            assert time.monotonic() < deadline, "the run never reached its second cell"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    # What the killed process left: whole files only, one cell in flight with some finished epochs.
    with TrainStore(out, read_only=True) as store:
        done = store.done_cells()
    checkpoints = list((out / "checkpoints").glob("cell-*.pt"))
    assert 1 <= len(done) < 3 and len(checkpoints) == 1
    state = torch.load(checkpoints[0], weights_only=True)
    in_flight, epochs_done = state["cell"], state["epoch"]
    assert in_flight not in done and 1 <= epochs_done < ARGS["epochs"]
    assert len(state["rows"]) == epochs_done

    resumed = reduced_train("nb201", 3, 0, "econas", out, quiet=True, **ARGS)
    assert resumed.done_before == len(done)
    assert resumed.resumed == {in_flight: epochs_done}
    assert resumed.epochs_trained == ARGS["epochs"] * (3 - len(done)) - epochs_done
    assert resumed.finished and not list((out / "checkpoints").glob("*.pt"))

    reduced_train("nb201", 3, 0, "econas", tmp_path / "whole", quiet=True, **ARGS)
    assert _table(out).equals(_table(tmp_path / "whole"))
