"""The ``zcnas`` command: thin; it parses arguments and calls the library.

Exit status: 0 on success, 2 on bad usage (a bad value, a folder made with other settings), 1 on failure.

Example:
    zcnas score --space nb201 --dataset cifar10 --proxies all --sample 1000 --seed 0 --out runs/c10
    zcnas correlate runs/c10 --target cifar10_test_200ep
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Zero-cost proxies for lightweight NAS.")


class UsageError(Exception):
    """Bad usage: exit status 2."""


def _fail(message: str, code: int) -> None:
    typer.echo(f"zcnas: error: {message}", err=True)
    raise typer.Exit(code)


def read_arch_file(path: Path, space: str = "nb201") -> list[str]:
    """Architectures listed in a file, one per line: an official NB-201 index or an architecture string.

    Blank lines and lines starting with '#' are skipped; a bad line is reported with its number.
    """
    from zcnas.spaces import nb201

    if not path.is_file():
        raise UsageError(f"index file {path} does not exist")
    table = None
    archs = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.lstrip("-").isdigit():
            if table is None:
                from zcnas.benchmarks import load_nb201

                table = load_nb201()
            try:
                archs.append(table.arch_at(int(line)))
            except (ValueError, KeyError, IndexError) as exc:
                raise UsageError(f"{path}:{number}: {exc}") from None
        else:
            try:
                archs.append(nb201.to_string(line))
            except ValueError as exc:
                raise UsageError(f"{path}:{number}: {exc}") from None
    if not archs:
        raise UsageError(f"index file {path} lists no architectures")
    return archs


def _select_archs(space: str, all_: bool, sample: Optional[int], indices: Optional[Path], seed: int) -> list[str]:
    import numpy as np

    from zcnas.spaces import nb201

    if space != "nb201":
        raise UsageError(f"unknown space {space!r}; available: nb201")
    chosen = sum([all_, sample is not None, indices is not None])
    if chosen != 1:
        raise UsageError("choose exactly one of --all, --sample N and --indices FILE")
    if all_:
        return nb201.all_archs()
    if sample is not None:
        if not 1 <= sample <= nb201.NUM_ARCHS:
            raise UsageError(f"--sample {sample} is out of range 1..{nb201.NUM_ARCHS}")
        return nb201.sample(sample, np.random.default_rng(seed))
    return read_arch_file(indices, space)


def _parse_options(values: list[str]) -> dict[str, dict[str, object]]:
    """``proxy.option=value`` pairs (values parsed as JSON when they parse, else kept as strings)."""
    import json

    options: dict[str, dict[str, object]] = {}
    for item in values:
        key, sep, value = item.partition("=")
        proxy, dot, option = key.partition(".")
        if not sep or not dot or not proxy or not option:
            raise UsageError(f"--option {item!r} must read proxy.option=value, e.g. jacob_cov.eigen_solver=eigvalsh")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        options.setdefault(proxy, {})[option] = parsed
    return options


@app.command()
def proxies() -> None:
    """List the registered proxies and their metadata."""
    from zcnas.proxies.registry import get_proxy, list_proxies

    for name in list_proxies():
        spec = get_proxy(name)
        labels = "labels" if spec.needs_labels else "no labels"
        kind = "data-free" if spec.data_free else "data"
        typer.echo(f"{name:12s} {labels:9s} {kind:9s} BN {'kept' if spec.bn else 'removed':7s} {spec.description}")


@app.command()
def score(
    out: Path = typer.Option(..., help="result folder (Parquet parts + config.json); rerun to resume"),
    space: str = typer.Option("nb201", help="search space"),
    dataset: str = typer.Option("cifar10", help="cifar10 or cifar100 (number of classes)"),
    proxies: str = typer.Option("grad_norm,snip,grasp,fisher,synflow,jacob_cov",
                                help="comma-separated names, or 'all'"),
    all_: bool = typer.Option(False, "--all", help="every architecture of the space"),
    sample: Optional[int] = typer.Option(None, help="a seeded uniform sample of N architectures"),
    indices: Optional[Path] = typer.Option(None, help="file: one official index or architecture string per line"),
    seed: int = typer.Option(0, help="run seed: the sample, each cell's init and minibatch"),
    batch_size: int = typer.Option(64, help="images per minibatch"),
    batch_mode: str = typer.Option("per-cell", help="per-cell (each arch its own batch, as the reference) or fixed"),
    augment: bool = typer.Option(False, help="the reference's training augmentation (random crop + flip)"),
    data_source: str = typer.Option("cifar10", help="cifar10 (npz subset), cifar10-batches-py, cifar100-python, synthetic"),
    data_folder: Optional[Path] = typer.Option(None, help="official CIFAR python folder for those sources"),
    reference_compatible: bool = typer.Option(False, help="the zero-cost reference's NB-201 cell (non-affine BN, conv bias)"),
    dtype: str = typer.Option("float32", help="float32 or float64"),
    channels: int = typer.Option(16, help="stem channels C of the network (benchmark: 16)"),
    cells_per_stage: int = typer.Option(5, help="cells per stage (benchmark: 5)"),
    option: list[str] = typer.Option([], help="proxy option, e.g. jacob_cov.eigen_solver=eigvalsh (repeatable)"),
    backend: str = typer.Option("inline", help="inline, process or ray"),
    workers: Optional[int] = typer.Option(None, help="processes (process backend) or local Ray CPUs"),
    address: Optional[str] = typer.Option(None, help="Ray cluster address (auto, ray://host:port)"),
    no_dedup: bool = typer.Option(False, "--no-dedup", help="score isomorphic cells separately for data-free proxies"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
) -> None:
    """Score architectures with zero-cost proxies into a resumable result folder."""
    from zcnas.proxies.registry import resolve_names
    from zcnas.scoring.runner import ScoreSettings, score_many
    from zcnas.scoring.store import StoreError

    try:
        archs = _select_archs(space, all_, sample, indices, seed)
        settings = ScoreSettings(
            proxies=tuple(resolve_names(proxies)), space=space, dataset=dataset, data_source=data_source,
            data_folder=str(data_folder) if data_folder else None, batch_size=batch_size, seed=seed,
            batch_mode=batch_mode, augment=augment, reference_compatible=reference_compatible, dtype=dtype,
            channels=channels, cells_per_stage=cells_per_stage, options=_parse_options(option),
        )
        if backend not in ("inline", "process", "ray"):
            raise UsageError(f"--backend {backend!r} is not allowed; use inline, process or ray")
        summary = score_many(archs, settings, out, backend=backend, workers=workers, address=address,
                             dedup=not no_dedup, quiet=quiet)
    except (UsageError, ValueError, StoreError) as exc:
        _fail(str(exc), 2)
    typer.echo(summary.line())
    for message in summary.error_messages:
        typer.echo(f"  error: {message}", err=True)
    if summary.errors:
        raise typer.Exit(1)


@app.command()
def correlate(
    run: Path = typer.Argument(..., help="a result folder written by `zcnas score`"),
    target: str = typer.Option("cifar10_test_200ep", help="ground-truth column of the NB-201 table"),
    report_dir: Optional[Path] = typer.Option(None, help="where to write the report (default RUN/report)"),
    benchmark_file: Optional[Path] = typer.Option(None, help="NB-201 accuracy CSV (default: the data folder's)"),
    title: Optional[str] = typer.Option(None, help="report title"),
    spread_size: Optional[int] = typer.Option(None, help="add spearman_sd: bootstrap SD of rho on N cells"),
) -> None:
    """Rank-correlate a result folder with NB-201 accuracies: Markdown + CSV table and scatter plots."""
    from zcnas.report.correlation import correlation_report
    from zcnas.scoring.store import StoreError

    try:
        path, table = correlation_report(run, target=target, report_dir=report_dir,
                                         benchmark_file=benchmark_file, title=title, spread_size=spread_size)
    except (ValueError, KeyError, StoreError, FileNotFoundError) as exc:
        _fail(str(exc).strip("'\""), 2)
    typer.echo(table)
    typer.echo(f"report: {path}")


@app.command()
def demo(
    out: Path = typer.Option(Path("runs/demo"), help="output folder"),
    sample: int = typer.Option(100, help="NB-201 cells to score"),
    seed: int = typer.Option(0, help="run seed"),
    workers: int = typer.Option(2, help="local processes"),
) -> None:
    """The main job on the shared data: score a seeded NB-201 sample with the paper's six plus params and
    flops on real CIFAR-10 minibatches, correlate with 200-epoch CIFAR-10 test accuracy, write a report."""
    from zcnas.report.correlation import correlation_report
    from zcnas.scoring.runner import ScoreSettings, score_many

    settings = ScoreSettings(proxies=("grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov",
                                      "params", "flops"), seed=seed)
    archs = _select_archs("nb201", False, sample, None, seed)
    typer.echo(f"scoring {len(archs)} NB-201 cells on real CIFAR-10 minibatches of 64 -> {out}")
    summary = score_many(archs, settings, out, backend="process" if workers > 1 else "inline", workers=workers)
    typer.echo(summary.line())
    path, table = correlation_report(out, target="cifar10_test_200ep",
                                     title=f"zcnas demo: {len(archs)} NB-201 cells, CIFAR-10")
    typer.echo(table)
    typer.echo(f"report: {path}")


def main() -> None:
    """Entry point of the ``zcnas`` console script."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        typer.echo("interrupted; rerun the same command to resume", err=True)
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
