"""Tests of the resumable result store: round trip, settings check, crash safety, corrupt parts, dedup."""

from __future__ import annotations

import errno
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from zcnas.scoring.store import COLUMNS, ResultStore, StoreError

CONFIG = {
    "space": "nb201",
    "dataset": "cifar10",
    "batch_size": 64,
    "dtype": "float32",
    "proxies": ["synflow"],
}


def row(arch: str, proxy: str = "synflow", seed: int = 0, value: float = 1.0, status: str = "ok", **extra):
    return {"arch": arch, "proxy": proxy, "seed": seed, "value": value, "status": status, **extra}


def part_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.parquet"))


def test_round_trip_keeps_values_and_exact_dtypes(tmp_path):
    folder = tmp_path / "runs" / "c10"  # parents are created
    rows = [
        row("a", value=1.25, seconds=0.5),
        row("a", proxy="snip", value=-3.0, seconds=0.25, shared_from="b"),
        row("b", status="nan", value=float("nan"), reason="synflow overflowed to inf"),
        row("c", status="error", value=None, reason="RuntimeError: out of memory", seed=7),
    ]
    with ResultStore(folder, CONFIG) as store:
        store.append(rows[:2])
        store.append(rows[2:])
    assert json.loads((folder / "config.json").read_text()) == CONFIG

    df = ResultStore(folder, CONFIG, read_only=True).rows()
    assert list(df.columns) == list(COLUMNS)
    assert df["seed"].dtype == "int64"
    assert df["value"].dtype == "float64"
    assert df["seconds"].dtype == "float64"
    for col in ("arch", "proxy", "status", "reason", "shared_from"):
        assert pd.api.types.is_string_dtype(df[col]), col
    assert df[["arch", "proxy", "seed"]].values.tolist() == [
        ["a", "snip", 0],
        ["a", "synflow", 0],
        ["b", "synflow", 0],
        ["c", "synflow", 7],
    ]
    a_snip = df.iloc[0]
    assert (a_snip["value"], a_snip["seconds"], a_snip["shared_from"], a_snip["reason"]) == (
        -3.0,
        0.25,
        "b",
        "",
    )
    assert math.isnan(df.iloc[2]["value"]) and df.iloc[2]["reason"] == "synflow overflowed to inf"
    assert math.isnan(df.iloc[2]["seconds"])  # seconds default to NaN (unknown)
    assert df.iloc[3]["status"] == "error" and math.isnan(df.iloc[3]["value"])
    # The parts themselves carry the documented schema.
    for path in part_files(folder):
        assert pq.read_schema(path).names == list(COLUMNS)


def test_errors_are_retried_and_nan_rows_are_done(tmp_path):
    with ResultStore(tmp_path / "s", CONFIG) as store:
        store.append(
            [row("a"), row("b", status="nan", value=float("nan"), reason="inf"), row("c", status="error")]
        )
        assert store.done_keys() == {("a", "synflow", 0), ("b", "synflow", 0)}
        assert store.done_keys(include_errors=True) == {
            ("a", "synflow", 0),
            ("b", "synflow", 0),
            ("c", "synflow", 0),
        }
        store.append([row("c", value=4.0)])  # the retry succeeds: the key is done now
    with ResultStore(tmp_path / "s", CONFIG) as store:
        assert ("c", "synflow", 0) in store.done_keys()
        assert store.rows().set_index("arch").loc["c", "value"] == 4.0


def test_bad_rows_are_refused_with_the_column_named(tmp_path):
    with ResultStore(tmp_path / "s", CONFIG) as store:
        with pytest.raises(ValueError, match="status 'nan'"):
            store.append([row("a", value=float("inf"))])
        with pytest.raises(ValueError, match="unknown result columns \\['valeu'\\]"):
            store.append([{**row("a"), "valeu": 1.0}])
        with pytest.raises(ValueError, match="status must be one of"):
            store.append([row("a", status="done")])
        with pytest.raises(TypeError, match="seed must be an int"):
            store.append([row("a", seed="0")])
        assert store.done_keys(include_errors=True) == set()
        assert part_files(tmp_path / "s") == []


def test_config_mismatch_names_every_differing_key_with_both_values(tmp_path):
    folder = tmp_path / "c10"
    ResultStore(folder, CONFIG).close()
    with pytest.raises(StoreError) as info:
        ResultStore(folder, {**CONFIG, "batch_size": 128, "dtype": "float64"})
    message = str(info.value)
    assert message.startswith(f"output folder {folder} was made with batch_size=64, not 128")
    assert 'dtype="float32", not "float64"' in message
    assert message.endswith("use another --out or the same settings")
    assert "space" not in message and "\n" not in message
    # A key present on one side only is named too.
    with pytest.raises(StoreError, match="seeds unset, not \\[0, 1\\]"):
        ResultStore(folder, {**CONFIG, "seeds": [0, 1]})


def test_ignore_keys_let_the_proxy_list_grow_and_record_it(tmp_path):
    folder = tmp_path / "c10"
    with ResultStore(folder, CONFIG, ignore_keys=["proxies"]) as store:
        store.append([row("a")])
    grown = {**CONFIG, "proxies": ["synflow", "snip"]}
    with pytest.raises(StoreError, match="proxies"):
        ResultStore(folder, grown)  # without ignore_keys the change counts
    with ResultStore(folder, grown, ignore_keys=["proxies"]) as store:
        assert store.done_keys() == {("a", "synflow", 0)}
    assert json.loads((folder / "config.json").read_text())["proxies"] == ["synflow", "snip"]
    with pytest.raises(StoreError, match="batch_size=64, not 32"):
        ResultStore(folder, {**grown, "batch_size": 32}, ignore_keys=["proxies"])


def test_stray_tmp_files_are_removed_on_open(tmp_path):
    folder = tmp_path / "s"
    with ResultStore(folder, CONFIG) as store:
        store.append([row("a")])
    stray = folder / "part-0123456789abcdef.parquet.tmp"
    stray.write_bytes(b"half a parquet file")
    with ResultStore(folder, CONFIG) as store:
        assert not stray.exists()
        assert store.bad_parts == []
        assert store.done_keys() == {("a", "synflow", 0)}


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_part_is_set_aside_by_name_and_its_cells_are_redone(tmp_path, damage):
    folder = tmp_path / "s"
    with ResultStore(folder, CONFIG) as store:
        for arch in ("a", "b", "c"):
            store.append([row(arch), row(arch, proxy="snip")])
    parts = part_files(folder)
    assert len(parts) == 3
    bad = parts[1]  # holds cell "b"
    data = bad.read_bytes()
    damaged = {"garbage": os.urandom(len(data)), "truncated": data[: len(data) // 2], "empty": b""}[damage]
    bad.write_bytes(damaged)

    with pytest.warns(UserWarning, match=bad.name):
        store = ResultStore(folder, CONFIG)
    try:
        assert store.bad_parts == [bad]
        assert not bad.exists()
        assert (folder / (bad.name + ".corrupt")).read_bytes() == damaged  # set aside, not deleted
        assert {arch for arch, _, _ in store.done_keys()} == {"a", "c"}
        store.append([row("b"), row("b", proxy="snip")])  # the redone cell
        assert len(store.rows()) == 6
    finally:
        store.close()
    with ResultStore(folder, CONFIG) as store:  # nothing left to complain about
        assert store.bad_parts == []
        assert len(store.done_keys()) == 6


def test_duplicates_across_parts_keep_the_last_row_deterministically(tmp_path):
    folder = tmp_path / "s"
    with ResultStore(folder, CONFIG) as store:
        store.append([row("a", value=1.0), row("b", value=10.0)])
        store.append([row("a", value=2.0)])
        store.append([row("a", value=3.0), row("a", value=4.0)])  # twice in one append: the later one
        store.append([row("c", value=5.0)])
        assert store.rows().set_index("arch")["value"].to_dict() == {"a": 4.0, "b": 10.0, "c": 5.0}
    for _ in range(2):  # the same answer on every reopen
        df = ResultStore(folder, CONFIG, read_only=True).rows()
        assert not df.duplicated(["arch", "proxy", "seed"]).any()
        assert df.set_index("arch")["value"].to_dict() == {"a": 4.0, "b": 10.0, "c": 5.0}


def test_compact_merges_parts_and_a_crash_midway_loses_nothing(tmp_path):
    folder = tmp_path / "s"
    backup = tmp_path / "backup"
    backup.mkdir()
    with ResultStore(folder, CONFIG) as store:
        for i in range(5):
            store.append([row(f"a{i}", value=float(i)), row("same", value=float(i))])
        expected = store.rows()
        for path in part_files(folder):
            shutil.copy2(path, backup / path.name)
        merged = store.compact()
        assert part_files(folder) == [merged]
        pd.testing.assert_frame_equal(store.rows(), expected)
    # Simulate a crash after the merged part was written but before the old parts were removed.
    for path in backup.iterdir():
        shutil.copy2(path, folder / path.name)
    with ResultStore(folder, CONFIG) as store:
        assert len(store.parts) == 6
        pd.testing.assert_frame_equal(store.rows(), expected)
        store.append([row("late", value=9.0)])
        store.compact()
        assert store.rows().set_index("arch").loc["same", "value"] == 4.0
        assert len(store.rows()) == 7


def test_automatic_compaction_and_buffering(tmp_path):
    folder = tmp_path / "s"
    with ResultStore(folder, CONFIG, flush_every=3, compact_every=4) as store:
        store.append([row("a")])
        store.append([row("b")])
        assert part_files(folder) == []  # buffered, yet already counted as done
        assert store.done_keys() == {("a", "synflow", 0), ("b", "synflow", 0)}
        store.append([row("c")])
        assert len(part_files(folder)) == 1
        for i in range(9):
            store.append([row(f"x{i}")])
        assert len(part_files(folder)) == 1  # 4 parts were merged into one
        store.append([row("tail")])
    assert len(ResultStore(folder, CONFIG, read_only=True).rows()) == 13  # close() flushed the tail

    with ResultStore(tmp_path / "timed", CONFIG, flush_every=100, flush_seconds=0.05) as store:
        store.append([row("a")])
        assert part_files(tmp_path / "timed") == []
        time.sleep(0.06)
        store.append([row("b")])  # the oldest buffered row is old enough now
        assert len(part_files(tmp_path / "timed")) == 1


def test_pivot_spreads_one_seed(tmp_path):
    with ResultStore(tmp_path / "s", CONFIG) as store:
        store.append([row("a", "synflow", 0, 1.0), row("a", "snip", 0, 2.0), row("b", "synflow", 0, 3.0)])
        store.append([row("a", "synflow", 1, 5.0)])
        with pytest.raises(ValueError, match="seeds \\[0, 1\\]"):
            store.pivot()
        table = store.pivot(seed=0)
        assert list(table.index) == ["a", "b"] and list(table.columns) == ["snip", "synflow"]
        assert table.loc["a", "snip"] == 2.0 and table.loc["b", "synflow"] == 3.0
        assert math.isnan(table.loc["b", "snip"])
        assert store.pivot(seed=1).loc["a", "synflow"] == 5.0


def test_one_writer_per_folder_readers_allowed(tmp_path):
    folder = tmp_path / "s"
    with ResultStore(folder, CONFIG) as store:
        store.append([row("a")])
        with pytest.raises(StoreError, match="in use by another writer"):
            ResultStore(folder, CONFIG)
        reader = ResultStore(folder, read_only=True)
        assert reader.config == CONFIG and reader.done_keys() == {("a", "synflow", 0)}
        with pytest.raises(StoreError, match="read-only"):
            reader.append([row("b")])
    ResultStore(folder, CONFIG).close()  # released on close


def test_uncreatable_folder_gives_one_sentence(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match=f"cannot create the output folder {blocker / 'out'}: "):
        ResultStore(blocker / "out", CONFIG)


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_full_disk_gives_one_sentence_and_keeps_earlier_rows(tmp_path, monkeypatch, failing):
    # Tests run as root, where chmod does not stop writes, so the OS error is injected.
    folder = tmp_path / "s"
    store = ResultStore(folder, CONFIG)
    store.append([row("a", value=1.0)])

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, failing, no_space)
    with pytest.raises(StoreError) as info:
        store.append([row("b", value=2.0)])
    assert str(info.value) == (
        f"cannot write results to {folder}: No space left on device; the rows written before are kept"
    )
    assert list(folder.glob("*.tmp")) == []  # no half-written part left behind
    reader = ResultStore(folder, read_only=True)
    assert reader.bad_parts == []
    assert reader.rows()[["arch", "value"]].values.tolist() == [["a", 1.0]]
    # Once there is room again, the rows kept in the buffer reach the disk.
    monkeypatch.undo()
    store.close()
    with ResultStore(folder, CONFIG) as reopened:
        assert reopened.rows()[["arch", "value"]].values.tolist() == [["a", 1.0], ["b", 2.0]]


WRITER = textwrap.dedent(
    """
    import sys, time
    from zcnas.scoring.store import ResultStore
    folder, n = sys.argv[1], int(sys.argv[2])
    store = ResultStore(folder, {"space": "toy"}, compact_every=7)
    done = store.done_keys()
    print("ready", flush=True)
    for i in range(n):
        arch = f"cell{i:04d}"
        if (arch, "p1", 0) in done:
            continue
        store.append([{"arch": arch, "proxy": p, "seed": 0, "value": float(i), "status": "ok"} for p in ("p1", "p2")])
        time.sleep(0.001)
    store.close()
    print("finished", flush=True)
    """
)


def test_kill_minus_9_at_random_moments_never_loses_or_duplicates_rows(tmp_path):
    folder = tmp_path / "killed"
    n = 150
    expected = {(f"cell{i:04d}", p, 0) for i in range(n) for p in ("p1", "p2")}
    rng = random.Random(20240601)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    progress = []
    for _ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(folder), str(n)], stdout=subprocess.PIPE, text=True, env=env
        )
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL

        with ResultStore(folder, {"space": "toy"}) as store:  # opening never raises
            assert store.bad_parts == []
            assert list(folder.glob("*.tmp")) == []
            df = store.rows()
        assert not df.duplicated(["arch", "proxy", "seed"]).any()
        for path in part_files(folder):
            pq.read_table(path)  # every part is complete
        assert set(map(tuple, df[["arch", "proxy", "seed"]].values.tolist())) <= expected
        # A cell's two rows went into one part: both or neither survive.
        assert (df.groupby("arch").size() == 2).all()
        assert (df["value"] == df["arch"].str[4:].astype(float)).all()
        progress.append(len(df))
    print("rows after each kill:", progress)
    assert progress == sorted(progress) and progress[0] < 2 * n  # each run resumed; the first was cut short

    finished = subprocess.run(
        [sys.executable, "-c", WRITER, str(folder), str(n)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert finished.returncode == 0, finished.stderr
    with ResultStore(folder, {"space": "toy"}) as store:
        assert store.done_keys() == expected
        assert len(store.rows()) == len(expected)


def test_a_write_failure_is_a_store_write_error_and_an_os_error(tmp_path, monkeypatch):
    from zcnas.scoring.store import StoreWriteError

    store = ResultStore(tmp_path / "w", CONFIG)

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(StoreWriteError) as info:
        store.append([row("a", value=1.0)])
    assert isinstance(info.value, StoreError) and isinstance(info.value, OSError)
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    store.close()
    with pytest.raises(StoreError) as bad_settings:
        ResultStore(tmp_path / "w", {**CONFIG, "batch_size": 32})
    assert not isinstance(bad_settings.value, OSError)  # bad settings stay usage errors
