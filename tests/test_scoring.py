"""score_many: rows per (arch, proxy, seed), resume, dedup of data-free proxies, errors, backends, kill -9."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from zcnas.benchmarks import get_benchmark
from zcnas.proxies.registry import register_proxy, unregister_proxy
from zcnas.scoring.runner import ScoreSettings, plan_tasks, score_many
from zcnas.scoring.store import ResultStore, StoreError
from zcnas.spaces import nb201

TINY = dict(data_source="synthetic", batch_size=4, space_options={"channels": 4, "cells_per_stage": 1})


def tiny_settings(**kw) -> ScoreSettings:
    return ScoreSettings(**{**TINY, **kw})


def isomorphic_pair() -> tuple[str, str]:
    a = "|nor_conv_1x1~0|+|none~0|none~1|+|nor_conv_3x3~0|skip_connect~1|none~2|"
    b = "|nor_conv_3x3~0|+|none~0|none~1|+|nor_conv_1x1~0|skip_connect~1|none~2|"
    assert nb201.dedup_key(a) == nb201.dedup_key(b)
    return a, b


def test_rows_and_resume(tmp_path):
    archs = nb201.sample(6, np.random.default_rng(0))
    settings = tiny_settings(proxies=("snip", "synflow", "params"))
    first = score_many(archs, settings, tmp_path / "run", quiet=True, dedup=False)
    assert (first.computed, first.skipped, first.errors) == (6, 0, 0)
    rows = ResultStore(tmp_path / "run", read_only=True).rows()
    assert len(rows) == 18 and not rows.duplicated(["arch", "proxy", "seed"]).any()
    assert set(rows["status"]) == {"ok"} and (rows["seconds"] >= 0).all()
    again = score_many(archs, settings, tmp_path / "run", quiet=True, dedup=False)
    assert (again.computed, again.skipped) == (0, 6)
    # a new proxy on the same folder computes only what is missing
    more = score_many(archs, tiny_settings(proxies=("snip", "synflow", "params", "fisher")), tmp_path / "run",
                      quiet=True, dedup=False)
    assert more.computed == 6 and more.ok == 6
    after = ResultStore(tmp_path / "run", read_only=True).rows()
    merged = rows.merge(after, on=["arch", "proxy", "seed"], suffixes=("_a", "_b"))
    assert (merged["value_a"] == merged["value_b"]).all()


def test_same_settings_same_scores_in_a_new_folder(tmp_path):
    archs = nb201.sample(3, np.random.default_rng(1))
    settings = tiny_settings(proxies=("grad_norm", "jacob_cov"))
    score_many(archs, settings, tmp_path / "a", quiet=True)
    score_many(archs, settings, tmp_path / "b", quiet=True)
    a = ResultStore(tmp_path / "a", read_only=True).pivot()
    b = ResultStore(tmp_path / "b", read_only=True).pivot()
    pd.testing.assert_frame_equal(a, b)


def test_refuses_a_folder_made_with_other_settings(tmp_path):
    archs = nb201.sample(1, np.random.default_rng(0))
    score_many(archs, tiny_settings(proxies=("params",)), tmp_path / "run", quiet=True)
    with pytest.raises(StoreError, match="batch_size=4, not 8"):
        score_many(archs, tiny_settings(proxies=("params",), batch_size=8), tmp_path / "run", quiet=True)


def test_dedup_shares_data_free_scores_between_isomorphic_cells(tmp_path):
    a, b = isomorphic_pair()
    settings = tiny_settings(proxies=("synflow", "params", "snip"))
    summary = score_many([a, b], settings, tmp_path / "d", quiet=True)
    rows = ResultStore(tmp_path / "d", read_only=True).rows().set_index(["arch", "proxy"])
    assert summary.shared == 2
    assert rows.loc[(b, "synflow"), "shared_from"] == a
    assert rows.loc[(b, "synflow"), "value"] == rows.loc[(a, "synflow"), "value"]
    assert rows.loc[(b, "snip"), "shared_from"] == ""   # data proxies are never shared
    score_many([a, b], settings, tmp_path / "n", quiet=True, dedup=False)
    plain = ResultStore(tmp_path / "n", read_only=True).rows().set_index(["arch", "proxy"])
    assert plain.loc[(b, "synflow"), "shared_from"] == ""
    assert plain.loc[(b, "params"), "value"] == rows.loc[(b, "params"), "value"]


def test_dedup_resume_copies_from_a_source_done_earlier(tmp_path):
    a, b = isomorphic_pair()
    settings = tiny_settings(proxies=("synflow",))
    score_many([a], settings, tmp_path / "r", quiet=True)
    summary = score_many([a, b], settings, tmp_path / "r", quiet=True)
    assert summary.computed == 0 and summary.shared == 1
    rows = ResultStore(tmp_path / "r", read_only=True).rows().set_index("arch")
    assert rows.loc[b, "value"] == rows.loc[a, "value"] and rows.loc[b, "shared_from"] == a


def test_plan_tasks_only_lists_missing_work():
    a, b = isomorphic_pair()
    settings = tiny_settings(proxies=("synflow", "snip"))
    tasks, followers = plan_tasks([a, b], settings, {(a, "snip", 0)}, dedup=True)
    assert [(t[0], t[1]) for t in tasks] == [(a, ("synflow",)), (b, ("snip",))]
    assert followers == {(a, "synflow"): [b]}


def test_a_cell_that_raises_is_recorded_and_retried(tmp_path):
    bad = nb201.arch_from_ops((3, 3, 3, 3, 3, 3))

    @register_proxy("zz_flaky", needs_labels=False)
    def flaky(ctx):
        if ctx.model.arch == bad:
            raise RuntimeError("this cell breaks")
        return 1.0

    try:
        archs = [bad, nb201.arch_from_ops((1, 1, 1, 1, 1, 1))]
        settings = tiny_settings(proxies=("zz_flaky", "params"))
        summary = score_many(archs, settings, tmp_path / "e", quiet=True)
        assert summary.errors == 1 and summary.ok == 3
        assert "this cell breaks" in summary.error_messages[0]
        rows = ResultStore(tmp_path / "e", read_only=True).rows().set_index(["arch", "proxy"])
        assert rows.loc[(bad, "zz_flaky"), "status"] == "error" and math.isnan(rows.loc[(bad, "zz_flaky"), "value"])
        again = score_many(archs, settings, tmp_path / "e", quiet=True)   # errors are retried, the rest skipped
        assert again.computed == 1 and again.errors == 1
    finally:
        unregister_proxy("zz_flaky")


def test_process_backend_gives_the_inline_scores(tmp_path):
    archs = nb201.sample(4, np.random.default_rng(3))
    settings = tiny_settings(proxies=("snip", "synflow"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # workers run one thread each; equal thread counts give equal float sums
    try:
        score_many(archs, settings, tmp_path / "inline", quiet=True)
    finally:
        torch.set_num_threads(threads)
    score_many(archs, settings, tmp_path / "proc", quiet=True, backend="process", workers=2)
    a = ResultStore(tmp_path / "inline", read_only=True).pivot()
    b = ResultStore(tmp_path / "proc", read_only=True).pivot()
    pd.testing.assert_frame_equal(a, b)


def test_kill_9_loses_nothing_finished_and_resumes(tmp_path):
    archs = nb201.sample(40, np.random.default_rng(5))
    settings_code = (
        "from zcnas.scoring.runner import ScoreSettings, score_many\n"
        "import sys\n"
        f"archs = {archs!r}\n"
        "s = ScoreSettings(proxies=('synflow', 'params'), data_source='synthetic', batch_size=4, "
        "space_options={'channels': 4, 'cells_per_stage': 1})\n"
        "score_many(archs, s, sys.argv[1], quiet=True)\n"
    )
    script = tmp_path / "run.py"
    script.write_text(settings_code)
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), str(out)])
    deadline = time.time() + 60
    while time.time() < deadline:   # wait until a few parts exist, then kill -9 mid-run
        if out.exists() and len(list(out.glob("part-*.parquet"))) >= 5:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = ResultStore(out, read_only=True).rows()
    assert not partial.duplicated(["arch", "proxy", "seed"]).any()
    assert len(partial) < 80, "the run finished before it was killed; the test proved nothing"
    subprocess.run([sys.executable, str(script), str(out)], check=True)
    subprocess.run([sys.executable, str(script), str(tmp_path / "clean")], check=True)
    resumed = ResultStore(out, read_only=True).pivot()
    clean = ResultStore(tmp_path / "clean", read_only=True).pivot()
    pd.testing.assert_frame_equal(resumed, clean)


def test_bad_settings_are_one_sentence():
    with pytest.raises(ValueError, match="dataset 'imagenet' is not available for space 'nb201'; use one of: cifar10"):
        ScoreSettings(dataset="imagenet")
    with pytest.raises(ValueError, match="need cifar100 data .100 classes., but data_source 'cifar10' has 10"):
        ScoreSettings(dataset="cifar100", data_source="cifar10", proxies=("snip",))
    with pytest.raises(ValueError, match="no minibatches for dataset 'imagenet16'"):
        ScoreSettings(dataset="imagenet16", proxies=("snip",))
    assert ScoreSettings(dataset="cifar100", proxies=("snip",)).data_source == "cifar100"
    with pytest.raises(ValueError, match="unknown proxy 'nope'"):
        ScoreSettings(proxies=("nope",))
    ScoreSettings(dataset="cifar100", proxies=("synflow", "params", "flops"))  # data-free: fine


def test_score_cell_uses_the_dataset_head(tmp_path):
    arch = nb201.arch_from_ops((3, 3, 3, 3, 3, 3))
    for dataset in ("cifar10", "cifar100"):
        score_many([arch], tiny_settings(proxies=("params",), dataset=dataset), tmp_path / dataset, quiet=True)
    p10 = ResultStore(tmp_path / "cifar10", read_only=True).rows()["value"].iloc[0]
    p100 = ResultStore(tmp_path / "cifar100", read_only=True).rows()["value"].iloc[0]
    assert p100 - p10 == (100 - 10) * (16 + 1)   # the classifier: 4 channels * 4 = 16 features, plus bias


def test_unwritable_output_folder_is_one_sentence(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match=str(blocker)):
        score_many(nb201.sample(1, np.random.default_rng(0)), tiny_settings(proxies=("params",)),
                   blocker / "run", quiet=True)


def test_committed_result_tables_have_the_documented_shape():
    root = Path(__file__).resolve().parents[1] / "results"
    folders = sorted(p for p in root.glob("nb201_*") if (p / "config.json").exists())
    if not folders:
        pytest.skip("no committed result folders")
    for folder in folders:
        store = ResultStore(folder, read_only=True)
        rows = store.rows()
        assert not rows.duplicated(["arch", "proxy", "seed"]).any(), folder
        assert set(rows["status"]) <= {"ok", "nan"}, folder
        assert rows["arch"].map(nb201.is_valid).all(), folder
        per_proxy = rows.groupby("proxy").size()
        assert per_proxy.nunique() == 1, f"{folder}: every proxy covers the same cells"
        assert set(per_proxy.index) == set(store.config["proxies"]), folder
        if "heldout" in folder.name:  # the odd-official-index half of the s1000 sample (the ensemble's test half)
            sample = set(ResultStore(root / "nb201_c10_faithful_s1000", read_only=True).rows()["arch"])
            table = get_benchmark("nb201")
            assert set(rows["arch"]) == {c for c in sample if table.index_of(c) % 2 == 1}, folder
            continue
        expected = {"s1000": 1000, "s500": 500, "all": 15625}
        for tag, n in expected.items():
            if tag in folder.name:
                assert per_proxy.iloc[0] == n, folder


def test_size_only_proxies_are_shared_by_op_counts(tmp_path):
    a = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|nor_conv_1x1~2|"
    b = "|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|none~2|"
    assert nb201.op_counts(a) == nb201.op_counts(b) and nb201.canonical(a) != nb201.canonical(b)
    score_many([a, b], tiny_settings(proxies=("synflow", "params", "flops")), tmp_path / "s", quiet=True)
    rows = ResultStore(tmp_path / "s", read_only=True).rows().set_index(["arch", "proxy"])
    assert rows.loc[(b, "params"), "shared_from"] == a and rows.loc[(b, "flops"), "shared_from"] == a
    assert rows.loc[(b, "synflow"), "shared_from"] == ""
    score_many([a, b], tiny_settings(proxies=("params", "flops")), tmp_path / "n", quiet=True, dedup=False)
    plain = ResultStore(tmp_path / "n", read_only=True).rows().set_index(["arch", "proxy"])
    for proxy in ("params", "flops"):
        assert plain.loc[(b, proxy), "value"] == rows.loc[(b, proxy), "value"]


def test_the_thread_count_is_recorded_and_a_resume_with_another_is_refused(tmp_path):
    archs = nb201.sample(2, np.random.default_rng(2))
    settings = tiny_settings(proxies=("snip",), torch_threads=1)
    score_many(archs, settings, tmp_path / "run", quiet=True)
    assert ResultStore(tmp_path / "run", read_only=True).config["torch_threads"] == 1
    with pytest.raises(StoreError, match="was made with torch_threads=1, not 2"):
        score_many(archs, tiny_settings(proxies=("snip",), torch_threads=2), tmp_path / "run", quiet=True)
    # the default follows the backend: this process's count inline, an equal share per worker process
    from zcnas.scoring.executors import available_cpus
    from zcnas.scoring.runner import default_threads

    assert default_threads("inline", None) == __import__("torch").get_num_threads()
    assert default_threads("process", 2) == max(1, available_cpus() // 2)
    assert default_threads("ray", None) == 1


def test_a_folder_made_before_threads_were_recorded_adopts_the_count(tmp_path):
    import json

    archs = nb201.sample(2, np.random.default_rng(2))
    score_many(archs, tiny_settings(proxies=("params",), torch_threads=1), tmp_path / "old", quiet=True)
    config_path = tmp_path / "old" / "config.json"
    config = json.loads(config_path.read_text())
    del config["torch_threads"]
    config_path.write_text(json.dumps(config))
    again = score_many(archs, tiny_settings(proxies=("params", "snip"), torch_threads=2), tmp_path / "old",
                       quiet=True)
    assert again.computed == 2
    assert json.loads(config_path.read_text())["torch_threads"] == 2


def test_a_failed_final_merge_keeps_every_row_and_says_so(tmp_path, monkeypatch):
    archs = nb201.sample(3, np.random.default_rng(4))

    def full_disk(self):
        raise StoreError(f"cannot write results to {self.folder}: No space left on device; the rows written before are kept")

    monkeypatch.setattr(ResultStore, "compact", full_disk)
    summary = score_many(archs, tiny_settings(proxies=("params",)), tmp_path / "run", quiet=True)
    assert summary.computed == 3 and summary.errors == 0
    assert any("not merged" in note and "No space left" in note for note in summary.notes)
    assert len(ResultStore(tmp_path / "run", read_only=True).rows()) == 3
    rerun = score_many(archs, tiny_settings(proxies=("params",)), tmp_path / "run", quiet=True)
    assert rerun.skipped == 3 and rerun.notes      # the rerun is fine too, and says so again
    monkeypatch.undo()
    last = score_many(archs, tiny_settings(proxies=("params",)), tmp_path / "run", quiet=True)
    assert not last.notes and len(ResultStore(tmp_path / "run", read_only=True).parts) == 1
