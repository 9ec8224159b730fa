"""Executors: run one top-level function over many tasks, in-process, in local processes or on Ray.

Every executor has one method, :meth:`Executor.map_unordered`, which yields ``(task, result)`` pairs as tasks
finish. A task that does not produce a result (its function raised, or the worker process running it died) is
yielded as ``(task, TaskFailed(...))`` instead, so one bad task never stops a run of thousands; what to do with a
failure (record an "error" row, retry later) is the caller's choice. Tasks are read from the iterable lazily and
only a bounded number are in flight at once, so a 15,625-task run never builds 15,625 futures up front.

Example:
    >>> from zcnas.scoring.executors import make_executor
    >>> with make_executor("inline") as ex:
    ...     sorted(ex.map_unordered(abs, [-2, 1]))
    [(-2, 2), (1, 1)]
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import pickle
import traceback
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "BACKENDS",
    "Executor",
    "InlineExecutor",
    "ProcessExecutor",
    "RayExecutor",
    "TaskFailed",
    "available_cpus",
    "make_executor",
]

T = TypeVar("T")
R = TypeVar("R")

#: The backend names :func:`make_executor` accepts.
BACKENDS: tuple[str, ...] = ("inline", "process", "ray")

_RAY_MISSING = "the Ray backend needs the optional extra: pip install 'zcnas[distributed]'"


@dataclass(frozen=True)
class TaskFailed(Generic[T]):
    """Stands in for the result of a task that produced none.

    Attributes:
        task: the task, as it came from the caller's iterable.
        message: one line saying what happened (``"ValueError: bad arch"``, ``"the worker process died ..."``).
        kind: ``"exception"`` (the function raised) or ``"worker_died"`` (the process running it was lost).
        details: the remote traceback when there is one, else "".
    """

    task: T
    message: str
    kind: str = "exception"
    details: str = ""

    def __str__(self) -> str:
        return self.message


def available_cpus() -> int:
    """The number of CPUs this process may run on (its affinity mask where the system has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def _failure_from_exception(task: Any, exc: BaseException) -> TaskFailed[Any]:
    message = f"{type(exc).__name__}: {exc}".rstrip(": ")
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return TaskFailed(task, message.splitlines()[0] if message else type(exc).__name__, "exception", details)


def _check_picklable(fn: Callable[..., Any]) -> None:
    try:
        pickle.dumps(fn)
    except Exception:  # noqa: BLE001 - any pickling failure means the same thing here
        name = getattr(fn, "__qualname__", repr(fn))
        raise TypeError(
            f"fn must be a top-level function so it can be sent to worker processes, not {name}"
        ) from None


class Executor(ABC):
    """Runs ``fn(task)`` for many tasks and yields ``(task, result)`` as each one finishes.

    Executors are context managers; :meth:`close` releases their workers. An executor may be reused for several
    :meth:`map_unordered` calls, one at a time.
    """

    @abstractmethod
    def map_unordered(
        self, fn: Callable[[T], R], tasks: Iterable[T]
    ) -> Iterator[tuple[T, R | TaskFailed[T]]]:
        """Yield ``(task, fn(task))`` in completion order; a task without a result yields a :class:`TaskFailed`.

        Args:
            fn: a top-level (picklable) function of one task.
            tasks: the tasks, read lazily.

        Returns:
            An iterator of ``(task, result or TaskFailed)`` pairs, one per task.
        """

    def close(self) -> None:  # noqa: B027 - an optional hook: executors without workers have nothing to do
        """Release the workers (idempotent)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class InlineExecutor(Executor):
    """Runs every task in this process, one after the other (the reference for the other executors).

    Example:
        >>> list(InlineExecutor().map_unordered(str, [1, 2]))
        [(1, '1'), (2, '2')]
    """

    def map_unordered(
        self, fn: Callable[[T], R], tasks: Iterable[T]
    ) -> Iterator[tuple[T, R | TaskFailed[T]]]:
        for task in tasks:
            try:
                result: R | TaskFailed[T] = fn(task)
            except Exception as exc:  # noqa: BLE001 - reported as the task's failure, like the other executors
                result = _failure_from_exception(task, exc)
            yield task, result

    def __repr__(self) -> str:
        return "InlineExecutor()"


def _init_process_worker(threads: int) -> None:
    """Pool initializer: cap each worker's intra-op threads so workers do not oversubscribe the CPUs."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(threads)


class ProcessExecutor(Executor):
    """A local pool of ``workers`` spawned processes that survives the death of a worker.

    When a worker process dies (killed, crashed in native code, out of memory), every task in flight at that
    moment is lost together; the pool is restarted and those tasks are run again one at a time, so the task that
    kills its worker even when alone is reported as ``TaskFailed(kind="worker_died")`` and the innocent ones
    complete. A task that kills its worker therefore runs twice.

    Args:
        workers: number of worker processes.
        threads_per_worker: intra-op threads per worker (``torch.set_num_threads`` when torch is installed, and
            ``OMP_NUM_THREADS``); default ``max(1, available CPUs // workers)``.
        max_in_flight: tasks submitted but not finished at once; default ``2 * workers``.
        max_deaths_in_a_row: give up (``RuntimeError``) when this many tasks in a row each killed their worker
            even when run alone, with no success in between: the workers cannot run ``fn`` at all (a main module
            that cannot be re-imported, memory too small), and going on would only fail every task twice.

    Example:
        >>> with ProcessExecutor(workers=2) as ex:            # doctest: +SKIP
        ...     sorted(r for _, r in ex.map_unordered(abs, [-1, -2, 3]))
        [1, 2, 3]
    """

    def __init__(
        self,
        workers: int,
        threads_per_worker: int | None = None,
        max_in_flight: int | None = None,
        max_deaths_in_a_row: int = 5,
    ):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        if max_deaths_in_a_row < 1:
            raise ValueError(f"max_deaths_in_a_row must be at least 1, not {max_deaths_in_a_row}")
        if threads_per_worker is not None and threads_per_worker < 1:
            raise ValueError(f"threads_per_worker must be at least 1, not {threads_per_worker}")
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {max_in_flight}")
        self.workers = workers
        self.threads_per_worker = threads_per_worker or max(1, available_cpus() // workers)
        self.max_in_flight = max_in_flight or 2 * workers
        self.max_deaths_in_a_row = max_deaths_in_a_row
        #: How many times the pool was restarted after a worker died.
        self.restarts = 0
        self._pool: ProcessPoolExecutor | None = None

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_process_worker,
                initargs=(self.threads_per_worker,),
            )
        return self._pool

    def _restart_pool(self) -> None:
        self.close()
        self.restarts += 1

    def map_unordered(
        self, fn: Callable[[T], R], tasks: Iterable[T]
    ) -> Iterator[tuple[T, R | TaskFailed[T]]]:
        _check_picklable(fn)
        source = iter(tasks)
        exhausted = False
        suspects: deque[T] = deque()  # tasks in flight when a worker died, to rerun one at a time
        in_flight: dict[Future[R], tuple[T, bool]] = {}  # future -> (task, run alone?)
        deaths_in_a_row = 0

        def submit(task: T, alone: bool) -> None:
            try:
                future = self._ensure_pool().submit(fn, task)
            except BrokenProcessPool:
                self._restart_pool()
                future = self._ensure_pool().submit(fn, task)
            in_flight[future] = (task, alone)

        try:
            while True:
                if suspects:
                    if not in_flight:
                        submit(suspects.popleft(), alone=True)
                else:
                    while not exhausted and len(in_flight) < self.max_in_flight:
                        try:
                            task = next(source)
                        except StopIteration:
                            exhausted = True
                            break
                        submit(task, alone=False)
                if not in_flight:
                    return
                done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
                broken = any(isinstance(f.exception(), BrokenProcessPool) for f in done)
                if broken:  # every other future of the dead pool ends too, with a result or the same error
                    wait(list(in_flight))
                    done = set(in_flight)
                for future in [f for f in in_flight if f in done]:
                    task, alone = in_flight.pop(future)
                    exc = future.exception()
                    if exc is None:
                        deaths_in_a_row = 0
                        yield task, future.result()
                    elif isinstance(exc, BrokenProcessPool):
                        if alone:
                            deaths_in_a_row += 1
                            if deaths_in_a_row >= self.max_deaths_in_a_row:
                                raise RuntimeError(
                                    f"worker processes died on {deaths_in_a_row} tasks in a row, each run alone; "
                                    "they cannot run the function (check that the main module can be imported "
                                    "by a spawned process and that memory suffices)"
                                )
                            yield (
                                task,
                                TaskFailed(
                                    task,
                                    "the worker process died while running this task alone "
                                    "(killed, crashed or out of memory)",
                                    "worker_died",
                                ),
                            )
                        else:
                            suspects.append(task)
                    else:
                        yield task, _failure_from_exception(task, exc)
                if broken:
                    self._restart_pool()
        finally:
            for future in in_flight:
                future.cancel()
            if in_flight:  # the caller stopped early or an error escaped: do not leave tasks running
                self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __repr__(self) -> str:
        return f"ProcessExecutor(workers={self.workers}, threads_per_worker={self.threads_per_worker})"


def _ray_call(fn: Callable[[Any], Any], task: Any) -> Any:
    """Runs on a Ray worker: apply ``fn`` to one task."""
    return fn(task)


class RayExecutor(Executor):
    """Runs tasks as Ray remote calls, on a local Ray instance it starts or on an existing cluster.

    Ray is imported only when the first task is submitted (the optional extra ``zcnas[distributed]``). A task
    whose worker process dies is retried up to ``max_retries`` times by Ray; one that still fails, or whose
    function raised (not retried), is yielded as :class:`TaskFailed`.

    Args:
        address: None starts a local instance (shut down again by :meth:`close`); ``"auto"`` or
            ``"ray://host:port"`` connects to a running cluster (left running). When Ray is already initialised
            in this process, that instance is used and left running.
        num_cpus: CPUs of a local instance (default: all of this machine's); ignored with ``address``.
        num_cpus_per_task: CPUs reserved by each task.
        num_gpus_per_task: GPUs reserved by each task; default 1 when the cluster has GPUs, else 0.
        max_retries: how many times Ray reruns a task whose worker process died.
        max_in_flight: tasks submitted but not finished at once; default twice the tasks the cluster fits.
        runtime_env: Ray's runtime environment for the workers (e.g. ``{"working_dir": "."}`` or
            ``{"env_vars": {"PYTHONPATH": ...}}``) so they can import the module defining ``fn``; used only when
            this executor initialises Ray.

    Example:
        >>> with RayExecutor(num_cpus=2) as ex:               # doctest: +SKIP
        ...     sorted(r for _, r in ex.map_unordered(abs, [-1, -2, 3]))
        [1, 2, 3]
    """

    def __init__(
        self,
        address: str | None = None,
        num_cpus: int | None = None,
        num_cpus_per_task: float = 1,
        num_gpus_per_task: float | None = None,
        max_retries: int = 3,
        max_in_flight: int | None = None,
        runtime_env: dict[str, Any] | None = None,
    ):
        if num_cpus is not None and num_cpus < 1:
            raise ValueError(f"num_cpus must be at least 1, not {num_cpus}")
        if num_cpus_per_task <= 0:
            raise ValueError(f"num_cpus_per_task must be positive, not {num_cpus_per_task}")
        if num_gpus_per_task is not None and num_gpus_per_task < 0:
            raise ValueError(f"num_gpus_per_task must be 0 or more, not {num_gpus_per_task}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, not {max_retries}")
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {max_in_flight}")
        self.address = address
        self.num_cpus = num_cpus
        self.num_cpus_per_task = num_cpus_per_task
        self.num_gpus_per_task = num_gpus_per_task
        self.max_retries = max_retries
        self.max_in_flight = max_in_flight
        self.runtime_env = runtime_env
        self._ray: Any = None
        self._started_here = False

    @staticmethod
    def _import_ray() -> Any:
        try:
            import ray
        except ImportError:
            raise ImportError(_RAY_MISSING) from None
        return ray

    def _ensure_ray(self) -> Any:
        if self._ray is not None:
            return self._ray
        ray = self._import_ray()
        if not ray.is_initialized():
            if self.address is None:
                ray.init(
                    num_cpus=self.num_cpus,
                    include_dashboard=False,
                    log_to_driver=False,
                    ignore_reinit_error=True,
                    runtime_env=self.runtime_env,
                )
            else:
                ray.init(
                    address=self.address,
                    log_to_driver=False,
                    ignore_reinit_error=True,
                    runtime_env=self.runtime_env,
                )
            self._started_here = True
        self._ray = ray
        return ray

    def _resources(self, ray: Any) -> tuple[float, int]:
        """(GPUs per task, default tasks in flight) for the cluster as it is now."""
        resources = ray.cluster_resources()
        gpus = self.num_gpus_per_task
        if gpus is None:
            gpus = 1 if resources.get("GPU", 0) > 0 else 0
        fits = resources.get("CPU", 1) / self.num_cpus_per_task
        if gpus:
            fits = min(fits, resources.get("GPU", 0) / gpus)
        return gpus, max(1, 2 * int(fits))

    def map_unordered(
        self, fn: Callable[[T], R], tasks: Iterable[T]
    ) -> Iterator[tuple[T, R | TaskFailed[T]]]:
        ray = self._ensure_ray()
        gpus, default_in_flight = self._resources(ray)
        limit = self.max_in_flight or default_in_flight
        remote = ray.remote(_ray_call).options(
            num_cpus=self.num_cpus_per_task, num_gpus=gpus, max_retries=self.max_retries
        )
        fn_ref = ray.put(fn)
        source = iter(tasks)
        exhausted = False
        in_flight: dict[Any, T] = {}
        try:
            while True:
                while not exhausted and len(in_flight) < limit:
                    try:
                        task = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    in_flight[remote.remote(fn_ref, task)] = task
                if not in_flight:
                    return
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                for ref in ready:
                    task = in_flight.pop(ref)
                    yield task, self._get(ray, ref, task)
        finally:
            for ref in in_flight:
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001, S110 - best effort on the way out
                    pass

    @staticmethod
    def _get(ray: Any, ref: Any, task: T) -> Any:
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # fn raised: report the original exception
            cause = exc.cause if getattr(exc, "cause", None) is not None else exc
            message = f"{type(cause).__name__}: {cause}".splitlines()[0]
            return TaskFailed(task, message, "exception", str(exc))
        except ray.exceptions.RayError as exc:  # worker or node lost after all retries
            message = f"the Ray worker running this task was lost ({type(exc).__name__})"
            return TaskFailed(task, message, "worker_died", str(exc))

    def close(self) -> None:
        if self._ray is not None and self._started_here:
            self._ray.shutdown()
        self._ray = None
        self._started_here = False

    def __repr__(self) -> str:
        return f"RayExecutor(address={self.address!r}, max_retries={self.max_retries})"


def make_executor(
    backend: str,
    workers: int | None = None,
    address: str | None = None,
    *,
    threads_per_worker: int | None = None,
    num_gpus_per_task: float | None = None,
    max_retries: int = 3,
) -> Executor:
    """Build the executor named by ``backend``.

    Args:
        backend: "inline" (this process), "process" (a local process pool) or "ray".
        workers: processes for "process" (default: the available CPUs); CPUs of a local Ray instance for "ray"
            (default: all). Ignored by "inline".
        address: Ray cluster address ("auto", "ray://host:port"); None starts a local instance.
        threads_per_worker: intra-op threads per process worker (see :class:`ProcessExecutor`).
        num_gpus_per_task: GPUs per Ray task (see :class:`RayExecutor`).
        max_retries: Ray retries of a task whose worker died.

    Returns:
        An :class:`Executor`.

    Raises:
        ValueError: an unknown backend (the message lists the allowed ones).

    Example:
        >>> make_executor("inline")
        InlineExecutor()
    """
    if backend == "inline":
        return InlineExecutor()
    if backend == "process":
        return ProcessExecutor(workers or available_cpus(), threads_per_worker=threads_per_worker)
    if backend == "ray":
        return RayExecutor(
            address=address,
            num_cpus=workers if address is None else None,
            num_gpus_per_task=num_gpus_per_task,
            max_retries=max_retries,
        )
    raise ValueError(f"unknown executor backend {backend!r}; allowed: {', '.join(BACKENDS)}")
