"""The zcnas command end to end on a few cells: score, resume, correlate, and its errors (exit 2)."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from zcnas.cli import app, read_arch_file
from zcnas.scoring.store import ResultStore

runner = CliRunner()
FAST = ["--channels", "4", "--cells-per-stage", "1", "--batch-size", "8", "--quiet"]


def test_score_then_correlate(tmp_path):
    out = tmp_path / "c10"
    args = ["score", "--sample", "6", "--seed", "1", "--proxies", "synflow,snip,jacob_cov,params", "--out", str(out)]
    result = runner.invoke(app, args + FAST)
    assert result.exit_code == 0, result.output
    assert "6 architectures: 6 scored" in result.output
    again = runner.invoke(app, args + FAST)
    assert again.exit_code == 0 and "0 scored, 6 already done" in again.output
    rows = ResultStore(out, read_only=True).rows()
    assert len(rows) == 24

    result = runner.invoke(app, ["correlate", str(out), "--target", "cifar10_test_200ep"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "report" / "correlation.csv", index_col=0)
    assert set(table.index) == {"synflow", "snip", "jacob_cov", "params", "vote"}
    assert table.loc["synflow", "n"] + table.loc["synflow", "n_nan"] == 6
    assert (out / "report" / "scatter.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report" / "correlation.md").read_text()
    assert "| synflow |" in md and "scatter.png" in md


def test_indices_file_with_official_indices_and_strings(tmp_path):
    f = tmp_path / "idx.txt"
    f.write_text("# best CIFAR-10 and CIFAR-100 cells\n6111\n9930\n\n"
                 "|none~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|\n")
    archs = read_arch_file(f)
    assert len(archs) == 3 and archs[2].endswith("skip_connect~2|")
    result = runner.invoke(app, ["score", "--indices", str(f), "--proxies", "params", "--out", str(tmp_path / "o")] + FAST)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--space", "nb999", "--sample", "3"], "unknown space 'nb999'"),
        (["--sample", "3", "--all"], "exactly one of --all, --sample N and --cells FILE"),
        (["--sample", "0"], "sample=0 is not allowed; use an integer in 1..15625"),
        (["--sample", "3", "--seed", str(2**64)], "seed=18446744073709551616 is not allowed"),
        (["--sample", "3", "--proxies", "synflw"], "unknown proxy 'synflw'"),
        (["--sample", "3", "--backend", "spark"], "backend='spark' is not allowed"),
        (["--sample", "3", "--workers", "0", "--backend", "process"], "workers=0 is not allowed"),
        (["--sample", "3", "--dataset", "cifar100", "--data-source", "cifar10", "--proxies", "snip"],
         "need cifar100 data (100 classes), but data_source 'cifar10' has 10"),
        (["--sample", "3", "--option", "jacob_cov"], "must read proxy.option=value"),
        (["--sample", "3", "--proxies", "jacob_cov", "--option", "jacob_cov.foo=1"],
         "proxy 'jacob_cov' has no option 'foo'; its options: eigen_solver, k"),
        (["--sample", "3", "--proxies", "jacob_cov", "--option", "jacob_cov.eigen_solver=bogus"],
         "jacob_cov option eigen_solver='bogus' is not allowed; use one of: 'eig', 'eigvalsh'"),
        (["--sample", "3", "--proxies", "jacob_cov", "--option", "jacob_cov.k=NaN"],
         "jacob_cov.k=nan is not allowed; use a finite number"),
        (["--sample", "3", "--proxies", "snip", "--option", "jacob_cov.k=1e-4"],
         "options given for proxy 'jacob_cov', which is not among the proxies asked for: snip"),
        (["--sample", "3", "--model-option", "depth=3"], "space 'nb201' has no model option 'depth'"),
        (["--sample", "3", "--channels", "0"], "channels=0 is not allowed; use an integer >= 1"),
        (["--sample", "3", "--cells-per-stage", "0"], "cells_per_stage=0 is not allowed; use an integer >= 1"),
        (["--sample", "3", "--threads", "0"], "torch_threads=0 is not allowed"),
    ],
)
def test_bad_usage_exits_2_with_one_line_and_writes_nothing(tmp_path, args, message):
    result = runner.invoke(app, ["score", "--out", str(tmp_path / "x")] + FAST + args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists(), "a bad setting must be refused before anything is written"


def test_a_bad_setting_never_poisons_the_folder(tmp_path):
    out = tmp_path / "o"
    bad = runner.invoke(app, ["score", "--out", str(out), "--sample", "2", "--proxies", "jacob_cov",
                              "--option", "jacob_cov.foo=1"] + FAST)
    assert bad.exit_code == 2
    good = runner.invoke(app, ["score", "--out", str(out), "--sample", "2", "--proxies", "jacob_cov"] + FAST)
    assert good.exit_code == 0, good.output


def test_bad_index_file_names_the_line(tmp_path):
    f = tmp_path / "idx.txt"
    f.write_text("12\n20000\n")
    result = runner.invoke(app, ["score", "--indices", str(f), "--out", str(tmp_path / "o")] + FAST)
    assert result.exit_code == 2 and "idx.txt:2" in result.output and "20000" in result.output
    f.write_text("|conv~0|\n")
    result = runner.invoke(app, ["score", "--indices", str(f), "--out", str(tmp_path / "o")] + FAST)
    assert result.exit_code == 2 and "idx.txt:1" in result.output
    result = runner.invoke(app, ["score", "--indices", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_correlate_unknown_target(tmp_path):
    out = tmp_path / "r"
    runner.invoke(app, ["score", "--sample", "3", "--proxies", "params", "--out", str(out)] + FAST)
    result = runner.invoke(app, ["correlate", str(out), "--target", "accuracy"])
    assert result.exit_code == 2 and "target 'accuracy' is not in the nb201 benchmark table" in result.output


def test_proxies_lists_the_registry():
    result = runner.invoke(app, ["proxies"])
    assert result.exit_code == 0
    assert all(name in result.output for name in ("synflow", "jacob_cov", "fisher", "flops"))


@pytest.mark.parametrize("args", [["score", "--out", "x", "--no-such-flag"], ["score", "--out", "x", "--seed", "abc"],
                                  ["no-such-command"]])
def test_a_usage_error_through_the_console_entry_is_exit_2_without_a_traceback(args, capsys):
    from zcnas.cli import main

    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and ("No such" in err or "Invalid value" in err), err


def test_a_full_disk_exits_1_with_one_line_and_a_rerun_resumes(tmp_path, monkeypatch):
    import errno
    import os

    from zcnas.scoring import store as store_module

    out = tmp_path / "full"
    args = ["score", "--sample", "4", "--seed", "3", "--proxies", "params", "--out", str(out)] + FAST
    real_write = store_module.ResultStore._write_table
    calls = []

    def write_until_full(self, table, path):
        calls.append(path)
        if len(calls) <= 2:
            return real_write(self, table, path)

        def no_space(fh):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        return self._atomic_write(path, no_space)

    monkeypatch.setattr(store_module.ResultStore, "_write_table", write_until_full)
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [f"zcnas: error: cannot write results to {out}: No space left on device; "
                     "the rows written before are kept"], result.output
    assert len(ResultStore(out, read_only=True).rows()) == 2  # the parts written before the disk filled

    monkeypatch.undo()
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "2 scored, 2 already done" in again.output
    assert len(ResultStore(out, read_only=True).rows()) == 4
