"""score_many: score many architectures of a space with the chosen proxies into a resumable result store.

Each architecture is one task: build its network (init seeded from the run seed and the architecture), draw its
minibatch, compute the proxies with shared passes, and return one row per proxy. Rows land in a
``ResultStore`` as tasks finish, so a killed run resumes where it stopped. Data-free proxies (synflow, params,
flops, ...) are computed once per group of cells with the same ``dedup_key`` (isomorphic cells with the same
op counts; for size-only proxies, params and flops, every cell with the same op counts) and copied to the others
with ``shared_from`` set, unless ``dedup=False``.

Example:
    >>> import tempfile
    >>> from zcnas.scoring.runner import ScoreSettings, score_many
    >>> settings = ScoreSettings(proxies=("params",), data_source="synthetic", batch_size=2, channels=4,
    ...                          cells_per_stage=1)
    >>> archs = ["|none~0|+|none~0|none~1|+|none~0|none~1|nor_conv_1x1~2|"]
    >>> summary = score_many(archs, settings, tempfile.mkdtemp(), quiet=True)
    >>> summary.computed, summary.errors
    (1, 0)
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch

from zcnas import __version__
from zcnas.proxies.compute import compute_proxy_results
from zcnas.proxies.registry import get_proxy, resolve_names
from zcnas.scoring.executors import TaskFailed, make_executor
from zcnas.scoring.store import ResultStore

SPACES = ("nb201",)
DATASETS = {"cifar10": 10, "cifar100": 100}
DATA_SOURCES = ("cifar10", "cifar10-batches-py", "cifar100-python", "synthetic")
BATCH_MODES = ("per-cell", "fixed")


@dataclass(frozen=True)
class ScoreSettings:
    """Everything that decides a score; stored in the result folder's ``config.json``.

    Attributes:
        proxies: proxy names (may grow between runs of one folder).
        space: search space ("nb201").
        dataset: the classification task: "cifar10" (10 classes) or "cifar100" (100 classes).
        data_source: where minibatches come from: "cifar10" (the npz subset in the data folder),
            "cifar10-batches-py" / "cifar100-python" (an official folder, ``data_folder``) or "synthetic".
        data_folder: the official CIFAR python folder for those sources.
        batch_size: images per minibatch (reference: 64 on NB-201).
        seed: run seed; with the architecture string it seeds each cell's init and minibatch.
        batch_mode: "per-cell" (each architecture its own random batch, as the reference's shuffled loader)
            or "fixed" (one batch for every architecture).
        augment: the reference's training augmentation on the batch (random crop + flip).
        reference_compatible: the zero-cost reference's NB-201 cell variant (non-affine BN, conv bias).
        dtype: "float32" or "float64" for the model and batch (synflow is float64 regardless).
        channels / cells_per_stage: the network's width and depth (benchmark: 16 and 5).
        options: per-proxy options, e.g. {"jacob_cov": {"eigen_solver": "eigvalsh"}}.
    """

    proxies: tuple[str, ...] = ("grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov")
    space: str = "nb201"
    dataset: str = "cifar10"
    data_source: str = "cifar10"
    data_folder: str | None = None
    batch_size: int = 64
    seed: int = 0
    batch_mode: str = "per-cell"
    augment: bool = False
    reference_compatible: bool = False
    dtype: str = "float32"
    channels: int = 16
    cells_per_stage: int = 5
    options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "proxies", tuple(resolve_names(list(self.proxies))))
        checks = [
            ("space", self.space, SPACES),
            ("dataset", self.dataset, tuple(DATASETS)),
            ("data_source", self.data_source, DATA_SOURCES),
            ("batch_mode", self.batch_mode, BATCH_MODES),
            ("dtype", self.dtype, ("float32", "float64")),
        ]
        for name, value, allowed in checks:
            if value not in allowed:
                raise ValueError(f"{name}={value!r} is not allowed; use one of: {', '.join(allowed)}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size={self.batch_size} is not allowed; use an integer >= 1")
        if self.seed < 0:
            raise ValueError(f"seed={self.seed} is not allowed; use an integer >= 0")
        if (
            self.needs_data
            and self.dataset == "cifar100"
            and self.data_source in ("cifar10", "cifar10-batches-py")
        ):
            raise ValueError(
                f"proxies {list(self.data_proxies)} need CIFAR-100 images, which the shared data folder does not "
                "have; pass data_source='cifar100-python' with data_folder=<cifar-100-python folder>, "
                "or choose data-free proxies (synflow, params, flops)"
            )

    @property
    def data_proxies(self) -> tuple[str, ...]:
        return tuple(p for p in self.proxies if not get_proxy(p).data_free)

    @property
    def needs_data(self) -> bool:
        return bool(self.data_proxies)

    def store_config(self) -> dict[str, Any]:
        """The settings as stored in ``config.json`` (plus the package version)."""
        config = asdict(self)
        config["proxies"] = list(self.proxies)
        config["zcnas_version"] = __version__
        config["torch_version"] = torch.__version__.split("+")[0]
        return config


@dataclass
class ScoreSummary:
    """What a ``score_many`` run did."""

    archs: int = 0
    computed: int = 0
    skipped: int = 0
    shared: int = 0
    ok: int = 0
    nan: int = 0
    errors: int = 0
    seconds: float = 0.0
    error_messages: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.archs} architectures: {self.computed} scored, {self.skipped} already done, "
            f"{self.shared} shared from isomorphic cells; rows ok {self.ok}, nan {self.nan}, errors {self.errors}; "
            f"{self.seconds:.1f} s"
        )


def _seed_for(settings: ScoreSettings, kind: str, arch: str) -> int:
    from zcnas.data.batches import fixed_batch_seed

    return fixed_batch_seed(settings.seed, f"{kind}|{arch}")


def cell_batch(settings: ScoreSettings, arch: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The minibatch an architecture is scored on (all-zero images when only data-free proxies are asked)."""
    from zcnas.data.batches import minibatch

    if not settings.needs_data:
        return torch.zeros(settings.batch_size, 3, 32, 32), torch.zeros(settings.batch_size, dtype=torch.long)
    seed = settings.seed if settings.batch_mode == "fixed" else _seed_for(settings, "batch", arch) % (2**32)
    return minibatch(
        settings.data_source,
        batch_size=settings.batch_size,
        seed=seed,
        augment=settings.augment,
        num_classes=DATASETS[settings.dataset] if settings.data_source == "synthetic" else None,
        folder=settings.data_folder,
    )


def build_cell_model(settings: ScoreSettings, arch: str) -> torch.nn.Module:
    """The network of ``arch`` as ``settings`` describe it, its init seeded from the run seed and ``arch``."""
    from zcnas.spaces import nb201

    net = nb201.build_model(
        arch,
        num_classes=DATASETS[settings.dataset],
        channels=settings.channels,
        cells_per_stage=settings.cells_per_stage,
        reference_compatible=settings.reference_compatible,
        seed=_seed_for(settings, "init", arch) % (2**63),
    )
    return net.double() if settings.dtype == "float64" else net


def score_cell(task: tuple[str, tuple[str, ...], ScoreSettings]) -> list[dict[str, Any]]:
    """Score one architecture with some proxies; returns one store row per proxy. Picklable for workers.

    An exception while building the model or the batch becomes an "error" row for every proxy of the task.
    """
    arch, proxies, settings = task
    start = time.perf_counter()
    try:
        net = build_cell_model(settings, arch)
        inputs, targets = cell_batch(settings, arch)
        options = {p: settings.options[p] for p in proxies if p in settings.options}
        results = compute_proxy_results(
            net,
            inputs,
            targets,
            list(proxies),
            seed=_seed_for(settings, "proxy", arch) % (2**63),
            options=options,
            errors="record",
        )
    except Exception as exc:  # a cell whose model raises: recorded, the run goes on
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        elapsed = time.perf_counter() - start
        return [
            _row(arch, p, settings.seed, math.nan, "error", message, elapsed / len(proxies)) for p in proxies
        ]
    return [
        _row(arch, name, settings.seed, r.value, r.status, r.reason, r.seconds) for name, r in results.items()
    ]


def _row(
    arch: str,
    proxy: str,
    seed: int,
    value: float,
    status: str,
    reason: str,
    seconds: float,
    shared_from: str = "",
) -> dict[str, Any]:
    return {
        "arch": arch,
        "proxy": proxy,
        "seed": int(seed),
        "value": float(value),
        "status": status,
        "reason": reason,
        "seconds": float(seconds),
        "shared_from": shared_from,
    }


def _dedup_key(arch: str, proxy: str) -> str:
    """Cells with equal keys share the proxy's data-free score: op counts for size-only proxies, else the
    canonical form plus op counts."""
    from zcnas.spaces import nb201

    return nb201.size_key(arch) if get_proxy(proxy).size_only else nb201.dedup_key(arch)


def _canonical_archs(archs: Iterable[str]) -> list[str]:
    from zcnas.spaces import nb201

    result, seen = [], set()
    for arch in archs:
        arch = nb201.to_string(arch)
        if arch not in seen:
            seen.add(arch)
            result.append(arch)
    return result


def plan_tasks(
    archs: Sequence[str], settings: ScoreSettings, done: set[tuple[str, str, int]], dedup: bool
) -> tuple[list[tuple[str, tuple[str, ...], ScoreSettings]], dict[tuple[str, str], list[str]]]:
    """Which proxies each architecture still needs, and which finished rows to copy where.

    Returns ``(tasks, followers)``: ``followers[(source_arch, proxy)]`` lists architectures that take the
    source's data-free value once it exists.
    """
    seed = settings.seed
    free = [p for p in settings.proxies if get_proxy(p).data_free]
    followers: dict[tuple[str, str], list[str]] = {}
    source_of: dict[tuple[str, str], str] = {}  # (group key, proxy) -> arch that computes or computed it
    if dedup:
        for arch in archs:  # a group member already done is the source for the rest of its group
            for p in free:
                if (arch, p, seed) in done:
                    source_of.setdefault((_dedup_key(arch, p), p), arch)
    tasks = []
    for arch in archs:
        needed = []
        for p in settings.proxies:
            if (arch, p, seed) in done:
                continue
            if p in free and dedup:
                source = source_of.setdefault((_dedup_key(arch, p), p), arch)
                if source != arch:
                    followers.setdefault((source, p), []).append(arch)
                    continue
            needed.append(p)
        if needed:
            tasks.append((arch, tuple(needed), settings))
    return tasks, followers


def score_many(
    archs: Iterable[str],
    settings: ScoreSettings,
    out: str | Path,
    *,
    backend: str = "inline",
    workers: int | None = None,
    address: str | None = None,
    dedup: bool = True,
    quiet: bool = False,
    flush_every: int = 1,
) -> ScoreSummary:
    """Score ``archs`` into the result store at ``out``; rerunning the same call resumes.

    Args:
        archs: architecture strings (or op-index sequences) of ``settings.space``.
        settings: what decides the scores (see ``ScoreSettings``); a folder made with other settings is
            refused with the differing keys named.
        out: the result folder (Parquet parts + config.json).
        backend: "inline", "process" (``workers`` local processes) or "ray" (``address`` or a local instance).
        dedup: share data-free scores between isomorphic cells with equal op counts.
        quiet: no progress bar.
        flush_every: rows buffered before a part is written (1: a part per architecture).

    Returns:
        A ``ScoreSummary``: done, skipped, shared, NaN and error counts, seconds.
    """
    from tqdm.auto import tqdm

    start = time.perf_counter()
    archs = _canonical_archs(archs)
    summary = ScoreSummary(archs=len(archs))
    with ResultStore(
        out, settings.store_config(), ignore_keys=("proxies",), flush_every=flush_every
    ) as store:
        done = store.done_keys()
        tasks, followers = plan_tasks(archs, settings, done, dedup)
        summary.skipped = sum(
            1 for a in archs if all((a, p, settings.seed) in done for p in settings.proxies)
        )

        def record(rows: list[dict[str, Any]]) -> None:
            for row in rows:
                summary.ok += row["status"] == "ok"
                summary.nan += row["status"] == "nan"
                summary.errors += row["status"] == "error"
                if row["status"] == "error" and len(summary.error_messages) < 20:
                    summary.error_messages.append(f"{row['arch']} {row['proxy']}: {row['reason']}")
            store.append(rows)

        def share(source: dict[str, Any]) -> list[dict[str, Any]]:
            """Copies of a finished data-free row for the cells that wait on it."""
            if source["status"] == "error":
                return []
            copies = [{**source, "arch": arch, "seconds": 0.0, "shared_from": source["arch"]}
                      for arch in followers.pop((source["arch"], source["proxy"]), ())]
            summary.shared += len(copies)
            return copies

        ready = [key for key in followers if (key[0], key[1], settings.seed) in done]
        if ready:  # sources finished in an earlier run: copy their rows to the followers now
            finished = store.rows()
            finished = finished[finished["seed"] == settings.seed].set_index(["arch", "proxy"])
            for arch, proxy in ready:
                row = finished.loc[(arch, proxy)]
                record(share(_row(arch, proxy, settings.seed, row["value"], row["status"], row["reason"], 0.0)))

        bar = tqdm(total=len(tasks), unit="arch", disable=quiet, smoothing=0.05, dynamic_ncols=True)
        with make_executor(backend, workers=workers, address=address) as executor:
            for task, result in executor.map_unordered(score_cell, tasks):
                if isinstance(result, TaskFailed):
                    arch, proxies, _ = task
                    result = [
                        _row(arch, p, settings.seed, math.nan, "error", result.message, 0.0) for p in proxies
                    ]
                record(result + [copy for row in result for copy in share(row)])
                summary.computed += 1
                bar.update(1)
        bar.close()
        store.flush()
        if len(store.parts) > 1:
            store.compact()  # one Parquet file per finished run
    summary.seconds = time.perf_counter() - start
    return summary
