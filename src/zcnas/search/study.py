"""A search study: algorithms x variants x seeds, one resumable part per run, one ``trajectories.parquet``.

``paper_variants(algo)`` gives the curves of the paper's NB-201 search figure (REFERENCE section 4):
random: plain, warmup 1000 / 3000 / 15625; evolution: plain, move, warmup 1000 / 3000 / 15625; reinforce:
plain, move 10 / 100, warmup 1000 / 3000 / 15625; predictor: plain, warmup 256 / 512.

``run_search`` writes each finished (algo, variant, seed) run as its own Parquet part under ``out/parts``
(atomically), skips the parts already there, then writes ``out/trajectories.parquet`` with every part of the
folder. A killed study resumes where it stopped; the same arguments give the same file. ``config.json`` keeps
the settings that decide the numbers (space, dataset, budget, proxy); a folder made with others is refused
(plain runs use no proxy, so they join a folder of any proxy).

Example:
    >>> paper_variants("evolution")[:2]
    [Variant(name='plain', warmup=0, move=None), Variant(name='move', warmup=0, move=True)]
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zcnas.atomic import atomic_open
from zcnas.search.base import check_variant, get_searcher
from zcnas.search.loop import run_one
from zcnas.search.proxy_source import ProxySource
from zcnas.search.trainer import Trainer
from zcnas.spaces.base import SearchSpace

__all__ = ["LEVELS", "MILESTONES", "Variant", "paper_variants", "run_search", "summarise", "variant_for"]

#: Trained-model counts at which the summary reads the mean best_test.
MILESTONES = (10, 25, 50, 100, 300)
#: Accuracy levels (%) for "trained models to reach" in the summary, per dataset.
LEVELS = {"cifar100": (72.0, 73.0), "cifar10": (93.5, 94.0)}


@dataclass(frozen=True)
class Variant:
    """One curve of an algorithm: ``plain``, ``warmup<N>``, ``move`` or ``move<k>``."""

    name: str
    warmup: int = 0
    move: bool | int | None = None


def variant_for(algo: str, warmup: int = 0, move: bool | int | None = None) -> Variant:
    """The variant of ``algo`` with this warmup and move (named for what it is); checked against the algo.

    Example:
        >>> variant_for("reinforce", move=10)
        Variant(name='move10', warmup=0, move=10)
    """
    warmup, move = check_variant(get_searcher(algo), warmup, move)
    parts = [f"warmup{warmup}"] if warmup else []
    if move is True:
        parts.append("move")
    elif move:
        parts.append(f"move{move}")
    return Variant("+".join(parts) or "plain", warmup, move)


_PAPER = {
    "random": [(0, None), (1000, None), (3000, None), (15625, None)],
    "evolution": [(0, None), (0, True), (1000, None), (3000, None), (15625, None)],
    "reinforce": [(0, None), (0, 10), (0, 100), (1000, None), (3000, None), (15625, None)],
    "predictor": [(0, None), (256, None), (512, None)],
}


def paper_variants(algo: str) -> list[Variant]:
    """The variants of ``algo`` in the paper's NB-201 search figure (plain first)."""
    if algo not in _PAPER:
        raise ValueError(f"the paper's figure has no algo {algo!r}; it has: {', '.join(_PAPER)}")
    return [variant_for(algo, w, m) for w, m in _PAPER[algo]]


def _part_name(algo: str, variant: Variant, seed: int) -> str:
    return f"{algo}__{variant.name}__s{seed}.parquet"


def _check_config(out: Path, config: Mapping[str, Any]) -> None:
    path = out / "config.json"
    config = dict(config)
    if path.exists():
        old = json.loads(path.read_text(encoding="utf-8"))
        if config.get("proxy") is None or old.get("proxy") is None:  # plain runs use no proxy: they fit either way
            merged = old.get("proxy") or config.get("proxy")
            if merged != old.get("proxy"):
                old["proxy"] = merged
                with atomic_open(path, "w") as f:
                    json.dump(old, f, indent=2, sort_keys=True)
            config["proxy"] = merged
        if old != config:
            diff = {k: (old.get(k), config.get(k)) for k in set(old) | set(config) if old.get(k) != config.get(k)}
            raise ValueError(f"search folder {str(out)!r} was made with other settings {diff} (old, new); "
                             "use a new folder")
        return
    out.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "w") as f:
        json.dump(dict(config), f, indent=2, sort_keys=True)


def run_search(
    space: SearchSpace,
    trainer: Trainer,
    runs: Sequence[tuple[str, Variant]],
    *,
    seeds: Sequence[int],
    budget: int,
    out: str | os.PathLike[str],
    dataset: str,
    proxy: ProxySource | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Run every (algo, variant) of ``runs`` for every seed; return and write ``out/trajectories.parquet``.

    Each run's seed is ``seed`` itself, so one seed of one variant is reproducible alone. ``options`` are
    per-algo searcher options. Bad arguments raise ValueError before anything is run or written.
    """
    if budget < 1:
        raise ValueError(f"budget={budget} is not allowed; use an integer >= 1")
    if not seeds:
        raise ValueError("seeds is empty; give at least one seed")
    options = dict(options or {})
    for algo, variant in runs:
        cls = get_searcher(algo)
        opts = dict(options.get(algo, {}))
        fixed = cls.warmup_trained(variant.warmup, variant.move, opts)
        if budget < fixed:
            raise ValueError(f"budget={budget} is below the {fixed} models {algo} {variant.name} trains from its "
                             f"warmup; use a budget >= {fixed}")
        if (variant.warmup or variant.move) and proxy is None:
            raise ValueError(f"{algo} {variant.name} needs a proxy source; pass proxy=...")
        size = space.size
        if size is not None and variant.warmup > size:
            raise ValueError(f"warmup={variant.warmup} is more than the {size} cells of space {space.name!r}")
        if size is not None and budget > size:
            raise ValueError(f"budget={budget} is more than the {size} cells of space {space.name!r}")
    out = Path(out)
    config = {"space": space.name, "dataset": dataset, "budget": int(budget),
              "proxy": proxy.name if proxy is not None else None}
    _check_config(out, config)
    parts = out / "parts"
    parts.mkdir(exist_ok=True)
    for algo, variant in runs:
        for seed in seeds:
            path = parts / _part_name(algo, variant, int(seed))
            if path.exists():
                continue
            outcome = run_one(space, trainer, algo, budget=budget, seed=int(seed), proxy=proxy,
                              warmup=variant.warmup, move=variant.move, options=options.get(algo))
            frame = outcome.trajectory
            frame.insert(0, "seed", np.int64(seed))
            frame.insert(0, "dataset", dataset)
            frame.insert(0, "variant", variant.name)
            frame.insert(0, "algo", algo)
            with atomic_open(path, "wb") as f:
                frame.to_parquet(f, index=False)
            if progress:
                print(f"{algo} {variant.name} seed {seed}: best_test {frame['best_test'].iloc[-1]:.2f}", flush=True)
    table = pd.concat([pd.read_parquet(p) for p in sorted(parts.glob("*.parquet"))], ignore_index=True)
    table = table.sort_values(["algo", "variant", "seed", "trained"], kind="stable").reset_index(drop=True)
    with atomic_open(out / "trajectories.parquet", "wb") as f:
        table.to_parquet(f, index=False)
    return table


def summarise(trajectories: pd.DataFrame, levels: Sequence[float] = (), milestones: Sequence[int] = MILESTONES,
              column: str = "best_test") -> pd.DataFrame:
    """One row per (algo, variant): seeds, mean ``column`` at each milestone, models to reach each level.

    "Models to reach L" is the first ``trained`` at which the mean over seeds reaches ``L`` (NaN: not
    reached); ``speedup@L`` divides the algo's plain variant's count by this one's.

    Example:
        >>> t = pd.DataFrame({"algo": "a", "variant": "plain", "seed": [0, 0, 1, 1], "trained": [1, 2, 1, 2],
        ...                   "best_test": [1.0, 3.0, 2.0, 3.0]})
        >>> row = summarise(t, levels=[2.5], milestones=[1, 2]).iloc[0]
        >>> [float(row[c]) for c in ("seeds", "at 1", "at 2", "reach 2.5")]
        [2.0, 1.5, 3.0, 2.0]
    """
    rows = []
    for (algo, variant), group in trajectories.groupby(["algo", "variant"], sort=True):
        curve = group.groupby("trained")[column].mean()
        row: dict[str, Any] = {"algo": algo, "variant": variant, "seeds": int(group["seed"].nunique())}
        for m in milestones:
            row[f"at {m}"] = float(curve.loc[m]) if m in curve.index else np.nan
        for level in levels:
            hit = curve.index[curve.to_numpy() >= level]
            row[f"reach {level:g}"] = float(hit[0]) if len(hit) else np.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    for level in levels:
        col = f"reach {level:g}"
        plain = table[table["variant"] == "plain"].set_index("algo")[col]
        table[f"speedup@{level:g}"] = table["algo"].map(plain) / table[col]
    return table
