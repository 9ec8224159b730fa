"""The ``zcnas`` command: thin; it parses arguments and calls the library (``zcnas.pipeline``).

Exit status: 0 on success; 2 on bad usage (a bad value, a folder made with other settings), with one line
naming the value and what is allowed; 1 on failure (a cell that could not be scored, a full disk); 130 when
interrupted (Ctrl-C) and 143 when terminated (SIGTERM), after the rows computed so far are written.

Example:
    zcnas score --space nb201 --dataset cifar10 --proxies all --sample 1000 --seed 0 --out runs/c10
    zcnas correlate runs/c10 --target cifar10_test_200ep
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any, Optional

import click
import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Zero-cost proxies for lightweight NAS.")

EXIT_USAGE, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_TERMINATED = 2, 1, 130, 143
# typer >= 0.20 ships its own copy of click: usage errors (an unknown flag, a bad value) are instances of either
_USAGE_ERRORS = tuple(
    {click.exceptions.ClickException} | {c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"}
)
_ABORTS = (click.exceptions.Abort, typer.Abort)


class UsageError(Exception):
    """Bad usage: exit status 2."""


class _Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an interrupt so that every ``with`` block (store, executor) closes cleanly."""


def _fail(message: str, code: int) -> None:
    typer.echo(f"zcnas: error: {message}", err=True)
    raise typer.Exit(code)


def _usage_errors() -> tuple[type[BaseException], ...]:
    from zcnas.scoring.store import StoreError

    return (UsageError, ValueError, KeyError, TypeError, StoreError)


def _write_errors() -> tuple[type[BaseException], ...]:
    from zcnas.scoring.store import StoreWriteError

    return (StoreWriteError,)


def _failure_errors() -> tuple[type[BaseException], ...]:
    return (OSError,)


def _run(call: Any) -> Any:
    """Run a library call: bad usage exits 2, a failure exits 1, each with one line; Ctrl-C and SIGTERM say
    how to resume and exit 130 / 143."""
    try:
        return call()
    except _Terminated:  # the rows computed so far were written when the store closed on the way out
        typer.echo("terminated; rerun the same command to resume", err=True)
        raise typer.Exit(EXIT_TERMINATED) from None
    except KeyboardInterrupt:
        typer.echo("interrupted; rerun the same command to resume", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except _write_errors() as exc:  # first: a StoreWriteError is also a StoreError, but it is a failure
        _fail(_message(exc), EXIT_FAILURE)
    except _usage_errors() as exc:
        _fail(_message(exc), EXIT_USAGE)
    except _failure_errors() as exc:
        _fail(_message(exc), EXIT_FAILURE)


def _message(exc: BaseException) -> str:
    """The one-line message of an exception (a KeyError's own text, not its quoted repr)."""
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    return str(text).splitlines()[0] if str(text) else type(exc).__name__


def _parse_value(text: str) -> Any:
    """A command-line value: JSON when it parses (numbers, true/false, null), else the string itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_proxy_options(values: list[str]) -> dict[str, dict[str, Any]]:
    """``proxy.option=value`` pairs as ``{proxy: {option: value}}``."""
    options: dict[str, dict[str, Any]] = {}
    for item in values:
        key, sep, value = item.partition("=")
        proxy, dot, option = key.partition(".")
        if not sep or not dot or not proxy or not option:
            raise UsageError(f"--option {item!r} must read proxy.option=value, e.g. jacob_cov.eigen_solver=eigvalsh")
        options.setdefault(proxy, {})[option] = _parse_value(value)
    return options


def parse_model_options(values: list[str]) -> dict[str, Any]:
    """``name=value`` pairs as ``{name: value}``."""
    options: dict[str, Any] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--model-option {item!r} must read name=value, e.g. channels=16")
        options[name] = _parse_value(value)
    return options


def read_arch_file(path: Path, space: str = "nb201") -> list[str]:
    """Cells listed in a file (a cell string or an official benchmark index per line); see
    ``zcnas.pipeline.read_cell_file``."""
    from zcnas.pipeline import read_cell_file

    try:
        return read_cell_file(path, space)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


@app.command()
def proxies() -> None:
    """List the registered proxies and their metadata."""
    from zcnas.proxies.registry import get_proxy, list_proxies

    for name in list_proxies():
        spec = get_proxy(name)
        labels = "labels" if spec.needs_labels else "no labels"
        kind = "data-free" if spec.data_free else "data"
        tags = ",".join(sorted(spec.tags)) or "-"
        typer.echo(f"{name:12s} {labels:9s} {kind:9s} BN {'kept' if spec.bn else 'removed':7s} {tags:6s} "
                   f"{spec.description}")


@app.command()
def spaces() -> None:
    """List the registered search spaces, their datasets and model options."""
    from zcnas.spaces import get_space, list_spaces

    for name in list_spaces():
        space = get_space(name)
        try:
            size = f"{space.size:,} cells" if space.size is not None else "size not counted"
        except ImportError as err:  # a space whose models come from an optional package that is missing
            size = f"unavailable: {err}"
        typer.echo(f"{name}: {space.description} ({size}; datasets {', '.join(space.datasets)}; "
                   f"benchmark {space.benchmark or 'none'})")
        for option in space.model_options:
            typer.echo(f"    --model-option {option.name}=<{option.kind.__name__}>  default {option.default!r}: "
                       f"{option.help}")


@app.command()
def score(
    out: Path = typer.Option(..., help="result folder (Parquet parts + config.json); rerun to resume"),
    space: str = typer.Option("nb201", help="search space (zcnas spaces)"),
    dataset: Optional[str] = typer.Option(None, help="the task the networks are built for (default: the space's first)"),
    proxies: Optional[str] = typer.Option(None, help="comma-separated names, or 'all' (default: the paper's six)"),
    all_: bool = typer.Option(False, "--all", help="every cell of the space"),
    sample: Optional[int] = typer.Option(None, help="a seeded uniform sample of N cells"),
    cells: Optional[Path] = typer.Option(None, "--cells", "--indices",
                                         help="file: one cell string or official benchmark index per line"),
    seed: int = typer.Option(0, help="run seed: the sample, each cell's init and minibatch"),
    batch_size: int = typer.Option(64, help="samples per minibatch"),
    batch_mode: str = typer.Option("per-cell", help="per-cell (each cell its own batch, as the reference) or fixed"),
    augment: bool = typer.Option(False, help="the reference's training augmentation (random crop + flip)"),
    data_source: Optional[str] = typer.Option(None, help="minibatch source (default: the dataset's subset in the "
                                                         "data folder); cifar10, cifar100, cifar10-batches-py, "
                                                         "cifar100-python, synthetic"),
    data_folder: Optional[Path] = typer.Option(None, help="official CIFAR python folder for those sources"),
    dtype: str = typer.Option("float32", help="float32 or float64"),
    model_option: list[str] = typer.Option([], help="a model option of the space, name=value (repeatable; "
                                                    "zcnas spaces lists them)"),
    channels: Optional[int] = typer.Option(None, help="shortcut for --model-option channels=N"),
    cells_per_stage: Optional[int] = typer.Option(None, help="shortcut for --model-option cells_per_stage=N"),
    reference_compatible: Optional[bool] = typer.Option(
        None, "--reference-compatible/--benchmark-faithful",
        help="shortcut for --model-option reference_compatible=true (NB-201: the zero-cost reference's cell)"),
    option: list[str] = typer.Option([], help="proxy option, e.g. jacob_cov.eigen_solver=eigvalsh (repeatable)"),
    backend: str = typer.Option("inline", help="inline, process or ray"),
    workers: Optional[int] = typer.Option(None, help="processes (process backend) or local Ray CPUs"),
    address: Optional[str] = typer.Option(None, help="Ray cluster address (auto, ray://host:port)"),
    threads: Optional[int] = typer.Option(None, help="torch threads per cell (default: all inline, CPUs/workers "
                                                     "per process, 1 per Ray task); recorded in config.json"),
    no_dedup: bool = typer.Option(False, "--no-dedup", help="score isomorphic cells separately for data-free proxies"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
) -> None:
    """Score cells of a search space with zero-cost proxies into a resumable result folder."""
    from zcnas.pipeline import score as run_score

    def call():
        if sum([all_, sample is not None, cells is not None]) != 1:
            raise UsageError("choose exactly one of --all, --sample N and --cells FILE")
        space_options = parse_model_options(model_option)
        for name, value in (("channels", channels), ("cells_per_stage", cells_per_stage),
                            ("reference_compatible", reference_compatible)):
            if value is not None:
                space_options[name] = value
        return run_score(
            out, space=space, all_cells=all_, sample=sample, cells_file=cells, seed=seed, proxies=proxies,
            backend=backend, workers=workers, address=address, threads=threads, dedup=not no_dedup, quiet=quiet,
            dataset=dataset, data_source=data_source, data_folder=str(data_folder) if data_folder else None,
            batch_size=batch_size, batch_mode=batch_mode, augment=augment, dtype=dtype,
            space_options=space_options, options=parse_proxy_options(option),
        )

    summary = _run(call)
    typer.echo(summary.line())
    for note in summary.notes:
        typer.echo(f"  note: {note}", err=True)
    for message in summary.error_messages:
        typer.echo(f"  error: {message}", err=True)
    if summary.errors:
        raise typer.Exit(EXIT_FAILURE)


@app.command()
def correlate(
    run: Path = typer.Argument(..., help="a result folder written by `zcnas score`"),
    target: Optional[str] = typer.Option(None, help="ground-truth metric (default: the run's dataset's test metric)"),
    report_dir: Optional[Path] = typer.Option(None, help="where to write the report (default RUN/report)"),
    benchmark: Optional[str] = typer.Option(None, help="a registered benchmark (default: the run's space's own)"),
    benchmark_file: Optional[Path] = typer.Option(None, help="read the benchmark from this file"),
    title: Optional[str] = typer.Option(None, help="report title"),
    spread_size: Optional[int] = typer.Option(None, help="add spearman_sd: bootstrap SD of rho on N cells"),
) -> None:
    """Rank-correlate a result folder with its space's ground truth: Markdown + CSV table and scatter plots."""
    from zcnas.pipeline import correlate as run_correlate

    result = _run(lambda: run_correlate(run, target, benchmark=benchmark, benchmark_file=benchmark_file,
                                        report_dir=report_dir, title=title, spread_size=spread_size))
    typer.echo(result.markdown)
    typer.echo(f"report: {result.path}")


@app.command()
def search(
    out: Path = typer.Option(..., help="study folder (resumable: finished runs are kept)"),
    space: str = typer.Option("nb201", help="search space with a benchmark table"),
    dataset: str = typer.Option("cifar100", help="dataset whose validation / test accuracies are read"),
    algo: str = typer.Option("evolution", help="random, evolution, reinforce or predictor; comma-separated or 'all'"),
    warmup: int = typer.Option(0, help="zero-cost warmup: score N random cells with the proxy first (0: off)"),
    move: bool = typer.Option(False, "--move", help="zero-cost move proposal (evolution: proxy-best neighbour; "
                              "reinforce: proxy-best of --candidates samples)"),
    candidates: int = typer.Option(10, help="reinforce move proposal: samples per step"),
    paper: bool = typer.Option(False, "--paper", help="run every variant of the paper's figure for each algo"),
    proxy: str = typer.Option("synflow", help="proxy for warmup and move"),
    scores: Optional[Path] = typer.Option(None, help="result folder with the proxy's scores (default: found "
                                          "under results/, else computed)"),
    budget: int = typer.Option(300, help="trained models per search"),
    seeds: int = typer.Option(10, help="seeds 0..N-1"),
    option: list[str] = typer.Option([], help="algo option ALGO.NAME=VALUE, e.g. evolution.population=32"),
) -> None:
    """Tabular NAS with zero-cost warmup / move proposal: trajectories.parquet, a figure and a table."""
    from zcnas.pipeline import search as run_search_study
    from zcnas.report.markdown import markdown_table
    from zcnas.search.base import list_searchers

    algos = list_searchers() if algo == "all" else [a.strip() for a in algo.split(",") if a.strip()]
    result = _run(lambda: run_search_study(
        out, space=space, dataset=dataset, algos=algos, warmup=warmup,
        move=move, candidates=candidates, paper_variants=paper,
        proxy=proxy, scores=scores, budget=budget, seeds=seeds, options=parse_proxy_options(option),
        progress=False))
    typer.echo(markdown_table(result.summary, ".2f"))
    typer.echo(f"trajectories: {Path(out) / 'trajectories.parquet'}\nreport: {result.report}")


@app.command()
def demo(
    out: Path = typer.Option(Path("runs/demo"), help="output folder"),
    sample: int = typer.Option(100, help="NB-201 cells to score"),
    seed: int = typer.Option(0, help="run seed"),
    workers: int = typer.Option(2, help="local processes"),
) -> None:
    """The main job on the shared data: score a seeded NB-201 sample with the paper's six plus params and
    flops on real CIFAR-10 minibatches, correlate with 200-epoch CIFAR-10 test accuracy, write a report; then a
    tabular search with and without a zero-cost warmup."""
    from zcnas.pipeline import correlate as run_correlate
    from zcnas.pipeline import score as run_score
    from zcnas.pipeline import search as run_search_study
    from zcnas.proxies.registry import paper_proxies
    from zcnas.report.markdown import markdown_table

    typer.echo(f"scoring {sample} NB-201 cells on real CIFAR-10 minibatches of 64 -> {out}")
    summary = _run(lambda: run_score(out, space="nb201", sample=sample, seed=seed,
                                     proxies=[*paper_proxies(), "params", "flops"],
                                     backend="process" if workers > 1 else "inline", workers=workers))
    typer.echo(summary.line())
    result = _run(lambda: run_correlate(out, "cifar10_test_200ep",
                                        title=f"zcnas demo: {sample} NB-201 cells, CIFAR-10"))
    typer.echo(result.markdown)
    typer.echo(f"report: {result.path}")
    typer.echo("searching NB-201 CIFAR-100 (tabular): aging evolution, plain and with a synflow warmup of 3000, "
               "20 seeds x 100 trained models")
    found = _run(lambda: run_search_study(Path(out) / "search", dataset="cifar100", algos=["evolution"],
                                          warmup=3000, budget=100, seeds=20))
    plain = _run(lambda: run_search_study(Path(out) / "search", dataset="cifar100", algos=["evolution"],
                                          budget=100, seeds=20))
    typer.echo(markdown_table(plain.summary, ".2f"))
    typer.echo(f"search report: {found.report.parent / 'report.md'}")


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``zcnas`` console script: exit codes as in the module docstring."""
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = app(args=argv, standalone_mode=False)
    except _ABORTS as exc:  # Ctrl-C (click turns KeyboardInterrupt into Abort)
        terminated = isinstance(exc.__context__, _Terminated) or isinstance(exc.__cause__, _Terminated)
        typer.echo(f"{'terminated' if terminated else 'interrupted'}; rerun the same command to resume", err=True)
        sys.exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)
    except _Terminated:
        typer.echo("terminated; rerun the same command to resume", err=True)
        sys.exit(EXIT_TERMINATED)
    except KeyboardInterrupt:
        typer.echo("interrupted; rerun the same command to resume", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except _USAGE_ERRORS as exc:
        exc.show()
        sys.exit(exc.exit_code)
    finally:
        signal.signal(signal.SIGTERM, previous)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
