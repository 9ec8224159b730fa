"""The zcnas command under Ctrl-C and SIGTERM, on a real process: it says how to resume, exits 130 / 143,
keeps every finished row, and the same command then finishes the run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from zcnas.scoring.store import ResultStore

ARGS = ["score", "--sample", "60", "--seed", "3", "--proxies", "synflow,params", "--data-source", "synthetic",
        "--channels", "4", "--cells-per-stage", "1", "--batch-size", "4", "--quiet", "--no-dedup"]


def _start(out):
    return subprocess.Popen([sys.executable, "-m", "zcnas.cli", *ARGS, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_parts(out, n, proc, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if out.exists() and len(list(out.glob("part-*.parquet"))) >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be interrupted: {proc.communicate()}")
        time.sleep(0.05)
    pytest.fail("no parts appeared")


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_interrupt_says_how_to_resume_and_resume_finishes(tmp_path, sig, code, word):
    out = tmp_path / "run"
    proc = _start(out)
    _wait_for_parts(out, 3, proc)
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"{word}; rerun the same command to resume" in err
    assert "Traceback" not in err
    partial = ResultStore(out, read_only=True).rows()
    assert 0 < len(partial) < 120 and not partial.duplicated(["arch", "proxy", "seed"]).any()
    done = subprocess.run([sys.executable, "-m", "zcnas.cli", *ARGS, "--out", str(out)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(ResultStore(out, read_only=True).rows()) == 120
