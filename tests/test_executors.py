"""Tests of the executors: same results everywhere, a dying worker is contained, Ray retries and cleans up."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from zcnas.scoring.executors import (
    InlineExecutor,
    ProcessExecutor,
    RayExecutor,
    TaskFailed,
    make_executor,
)

# ---------------------------------------------------------------- task functions (top level: picklable)


def square_plus(x: int) -> tuple[int, int]:
    return x, x * x + 1


def die_on_seven(x: int) -> int:
    if x == 7:
        os._exit(1)
    return x * 3


def raise_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three is not allowed")
    return x


def always_die(_: int) -> int:
    os._exit(3)


def torch_threads(_: int) -> int:
    import torch

    return torch.get_num_threads()


def slow_identity(x: int) -> int:
    time.sleep(0.05)
    return x


def die_on_first_attempt(task: tuple[int, str]) -> int:
    """Task 5 kills its own worker process the first time it runs; a marker file remembers the attempt."""
    x, marker_dir = task
    if x == 5:
        marker = Path(marker_dir) / "task5.started"
        if not marker.exists():
            marker.touch()
            os._exit(1)
    return x * x


def results_multiset(pairs) -> Counter:
    return Counter((task, result) for task, result in pairs)


# ---------------------------------------------------------------- inline and process pool


@pytest.fixture(scope="module")
def pool():
    """One two-worker pool shared by the process tests (spawning workers costs seconds)."""
    with ProcessExecutor(workers=2, threads_per_worker=1) as executor:
        yield executor
    assert multiprocessing.active_children() == []  # close() left no worker behind


def test_inline_and_process_give_the_same_results(pool):
    tasks = list(range(50))
    expected = Counter((x, (x, x * x + 1)) for x in tasks)
    assert results_multiset(InlineExecutor().map_unordered(square_plus, tasks)) == expected
    assert results_multiset(pool.map_unordered(square_plus, iter(tasks))) == expected


def test_a_worker_that_dies_fails_only_its_own_task(pool):
    restarts = pool.restarts
    results = dict(pool.map_unordered(die_on_seven, range(20)))
    assert sorted(results) == list(range(20))
    failed = {task: r for task, r in results.items() if isinstance(r, TaskFailed)}
    assert list(failed) == [7]
    assert failed[7].kind == "worker_died" and failed[7].task == 7 and "died" in failed[7].message
    assert all(results[x] == x * 3 for x in results if x != 7)
    assert pool.restarts > restarts
    # The restarted pool goes on working.
    assert dict(pool.map_unordered(square_plus, [2]))[2] == (2, 5)


def test_workers_that_cannot_run_anything_stop_the_run():
    with ProcessExecutor(workers=1, threads_per_worker=1, max_deaths_in_a_row=2) as executor:
        results = executor.map_unordered(always_die, range(100))
        _, first = next(results)
        assert isinstance(first, TaskFailed) and first.kind == "worker_died"
        with pytest.raises(RuntimeError, match="worker processes died on 2 tasks in a row"):
            next(results)


def test_an_exception_becomes_a_failure_in_every_local_executor(pool):
    for executor in (InlineExecutor(), pool):
        results = dict(executor.map_unordered(raise_on_three, range(5)))
        assert isinstance(results[3], TaskFailed)
        assert results[3].kind == "exception"
        assert results[3].message == "ValueError: three is not allowed"
        assert "three is not allowed" in results[3].details
        assert [results[x] for x in (0, 1, 2, 4)] == [0, 1, 2, 4]


def test_workers_run_with_the_requested_torch_threads(pool):
    pytest.importorskip("torch")
    assert {r for _, r in pool.map_unordered(torch_threads, range(4))} == {1}


def test_submissions_are_bounded():
    pulled = []

    def tasks():
        for x in range(1000):
            pulled.append(x)
            yield x

    others = set(multiprocessing.active_children())  # e.g. the shared pool's workers
    with ProcessExecutor(workers=1, threads_per_worker=1, max_in_flight=3) as executor:
        results = executor.map_unordered(slow_identity, tasks())
        first = next(results)
        assert first[0] == first[1]
        assert len(pulled) <= 4  # three in flight, one more at most once the first finished
        results.close()  # stopping early cancels the rest and releases the workers
    assert len(pulled) < 20
    assert set(multiprocessing.active_children()) <= others


def test_a_lambda_is_refused_with_one_sentence():
    with ProcessExecutor(workers=1) as executor:
        with pytest.raises(TypeError, match="fn must be a top-level function"):
            next(executor.map_unordered(lambda x: x, [1]))


def test_make_executor_names_an_unknown_backend():
    with pytest.raises(ValueError, match="unknown executor backend 'dask'; allowed: inline, process, ray"):
        make_executor("dask")
    assert isinstance(make_executor("inline"), InlineExecutor)
    process = make_executor("process", workers=3, threads_per_worker=2)
    assert (process.workers, process.threads_per_worker, process.max_in_flight) == (3, 2, 6)
    ray_ex = make_executor("ray", workers=2, num_gpus_per_task=0, max_retries=1)
    assert (ray_ex.num_cpus, ray_ex.num_gpus_per_task, ray_ex.max_retries) == (2, 0, 1)
    with pytest.raises(ValueError, match="workers must be at least 1, not 0"):
        ProcessExecutor(workers=0)


def test_missing_ray_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    executor = RayExecutor()
    with pytest.raises(ImportError) as info:
        next(executor.map_unordered(square_plus, [1]))
    assert str(info.value) == "the Ray backend needs the optional extra: pip install 'zcnas[distributed]'"


# ---------------------------------------------------------------- Ray

# Ray workers do not inherit pytest's sys.path: let them import this module for the task functions.
RAY_ENV = {
    "env_vars": {
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")])
        )
    }
}


def _child_pids() -> set[int]:
    """Processes whose parent is this one (Linux /proc), empty where /proc is missing."""
    me, children = os.getpid(), set()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me and fields[0] != "Z":
            children.add(int(entry.name))
    return children


@pytest.fixture
def ray_module():
    """Ray, skipped when missing; whatever a test leaves running is shut down and its processes checked."""
    ray = pytest.importorskip("ray")
    before = _child_pids()
    yield ray
    if ray.is_initialized():
        ray.shutdown()
    deadline = time.monotonic() + 20
    while _child_pids() - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _child_pids() - before == set(), "Ray left processes running"


def test_ray_gives_the_same_results_and_stops_the_instance_it_started(ray_module):
    if ray_module.is_initialized():
        ray_module.shutdown()
    tasks = list(range(50))
    expected = results_multiset(InlineExecutor().map_unordered(square_plus, tasks))
    executor = RayExecutor(num_cpus=2, runtime_env=RAY_ENV)
    try:
        assert results_multiset(executor.map_unordered(square_plus, tasks)) == expected
        failures = dict(executor.map_unordered(raise_on_three, range(5)))
        assert (
            isinstance(failures[3], TaskFailed) and failures[3].message == "ValueError: three is not allowed"
        )
        assert ray_module.is_initialized()
    finally:
        executor.close()
    assert not ray_module.is_initialized()


def test_ray_retries_a_task_whose_worker_died(ray_module, tmp_path):
    ray_module.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=RAY_ENV)
    uninterrupted = {x: x * x for x in range(12)}

    retried_dir, unretried_dir = tmp_path / "retried", tmp_path / "unretried"
    retried_dir.mkdir()
    unretried_dir.mkdir()
    with RayExecutor(max_retries=2) as executor:
        results = dict(
            executor.map_unordered(die_on_first_attempt, [(x, str(retried_dir)) for x in range(12)])
        )
    assert (retried_dir / "task5.started").exists()  # the first attempt really died
    assert {x: r for (x, _), r in results.items()} == uninterrupted
    assert ray_module.is_initialized()  # an instance it did not start is left running

    with RayExecutor(max_retries=0) as executor:  # without retries the same death is a failure
        results = dict(
            executor.map_unordered(die_on_first_attempt, [(x, str(unretried_dir)) for x in range(12)])
        )
    failed = {x for (x, _), r in results.items() if isinstance(r, TaskFailed)}
    assert failed == {5}
    assert results[(5, str(unretried_dir))].kind == "worker_died"
