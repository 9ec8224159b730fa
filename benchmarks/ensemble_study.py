"""Choose, freeze and report the label-free rank ensemble ``zc_ensemble`` on NAS-Bench-201.

Run:  .venv/bin/python benchmarks/ensemble_study.py [--freeze] [--markdown PATH]

The rule, fixed before looking at the held-out half:
- cells: the committed seeded sample of 1,000 NB-201 cells (seed 0) scored on CIFAR-10 (three score tables:
  the paper's six, the newer data-based proxies, the newer data-free ones);
- split by the cell's official NB-201 index: *even* index = selection half, *odd* index = held-out half;
- pool: every registered label-free proxy (``needs_labels=False``, not itself an ensemble) the tables hold;
- candidates: every set of 1-4 pool members under each rule ("mean_rank", "log_rank"), ranked within the
  selection half, scored by Spearman against 200-epoch CIFAR-10 test accuracy on that half only
  (``zcnas.evaluation.ensemble.search_ensembles``);
- choice (``choose_ensemble``): among the candidates within 0.005 of the best selection Spearman, the cheapest
  (summed median seconds per cell of the members), then the fewest members, then the higher Spearman;
- NaN members rank last (``nan_policy="worst"``).

It prints the selection-half ranking of candidates and, on the held-out half, Spearman and Kendall of every
single proxy and each ensemble with the published figures beside them; then the same on CIFAR-100 (the
held-out cells scored on CIFAR-100, when that table is committed), and the data-free proxies over all 15,625
cells. ``--freeze`` writes the chosen members, rule and the members' values on the selection half (the
reference sample a single cell is ranked against) into ``src/zcnas/proxies/ensemble_reference.py``, for
``zc_ensemble`` and for ``aznas``.

Example:
    >>> split_by_parity(["a", "b", "c"], [4, 7, 10])
    (['a', 'c'], ['b'])
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zcnas.atomic import atomic_open
from zcnas.benchmarks.base import BenchmarkTable
from zcnas.evaluation.ensemble import choose_ensemble, ensemble_scores, search_ensembles
from zcnas.evaluation.rank import spearman
from zcnas.evaluation.summary import correlation_summary
from zcnas.pipeline import ground_truth
from zcnas.proxies.ensembles import combine, get_ensemble, reference_fractions
from zcnas.proxies.registry import get_proxy, list_proxies
from zcnas.report.markdown import markdown_table
from zcnas.scoring.store import ResultStore

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
FROZEN_MODULE = ROOT / "src" / "zcnas" / "proxies" / "ensemble_reference.py"
C10_TABLES = ("nb201_c10_faithful_s1000", "nb201_c10_new_s1000", "nb201_c10_datafree_new_s1000")
C100_HELD_OUT = "nb201_c100_heldout_s1000"
DATAFREE_ALL = {"cifar10": "nb201_c10_datafree_all", "cifar100": "nb201_c100_datafree_all"}
TARGETS = {"cifar10": "cifar10_test_200ep", "cifar100": "cifar100_test_200ep"}
RULES = ("mean_rank", "log_rank")
MAX_MEMBERS = 4
TOLERANCE = 0.005
NAME = "zc_ensemble"

#: Published NB-201 Spearman figures (../shared/REFERENCE.md sections 3 and 6): proxy -> (CIFAR-10, CIFAR-100,
#: source). "~" marks values the reference marks unconfirmed (reprints, read-offs).
PUBLISHED: dict[str, tuple[str, str, str]] = {
    "grad_norm": ("0.58", "0.64", "paper Table 1 (reprint)"),
    "snip": ("0.58", "0.63", "paper Table 1 (reprint)"),
    "grasp": ("0.48", "0.54", "paper Table 1 (reprint)"),
    "fisher": ("0.36", "0.39", "paper Table 1 (reprint)"),
    "synflow": ("0.74", "0.76", "paper Table 1; notebook 0.737 / 0.763"),
    "jacob_cov": ("0.73", "0.71", "paper Table 1; notebook 0.731 / 0.704"),
    "vote": ("0.82*", "0.83*", "*pairwise agreement, not Spearman (REF notebook 0.817 / 0.832)"),
    "naswot": ("~0.77", "~0.80", "ZiCo / MeCo tables (unconfirmed)"),
    "params": ("~0.73", "~0.73", "ZiCo / MeCo tables (unconfirmed)"),
    "flops": ("~0.73", "~0.71", "ZiCo / MeCo tables (unconfirmed)"),
    "zico": ("~0.80", "~0.81", "ZiCo ICLR'23 (unconfirmed)"),
    "meco": ("0.894", "~0.88", "MeCo NeurIPS'23 abstract; C100 Table 1 (unconfirmed)"),
    "swap": ("~0.9", "", "SWAP ICLR'24 (unconfirmed)"),
    "reg_swap": ("~0.9", "", "SWAP ICLR'24 (unconfirmed)"),
    "aznas": ("0.913 (τ 0.741)", "~0.90", "AZ-NAS notebook, all cells; C100 CVPR'24 Table 1 (unconfirmed)"),
}

#: Single published proxies the ensemble is compared with (AZ-NAS is itself an ensemble, compared separately).
PUBLISHED_SINGLE_BEST = 0.894  # MeCo, CIFAR-10
PUBLISHED_AZNAS = 0.913


def load_tables(folders: Sequence[str | Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Values and seconds of several result folders, one column per proxy (the first folder holding a proxy
    wins), on the cells the first folder holds."""
    values, seconds = [], []
    for folder in folders:
        store = ResultStore(folder, read_only=True)
        values.append(store.pivot("value"))
        seconds.append(store.pivot("seconds"))
    v, s = pd.concat(values, axis=1), pd.concat(seconds, axis=1)
    keep = ~v.columns.duplicated()
    index = values[0].index
    return v.loc[index, keep], s.loc[index, ~s.columns.duplicated()]


def split_by_parity(cells: Sequence[str], indices: Sequence[int]) -> tuple[list[str], list[str]]:
    """The cells with an even official index (selection) and those with an odd one (held out)."""
    even = [c for c, i in zip(cells, indices) if int(i) % 2 == 0]
    odd = [c for c, i in zip(cells, indices) if int(i) % 2 == 1]
    return even, odd


def split_table(values: pd.DataFrame, bench: BenchmarkTable) -> tuple[list[str], list[str]]:
    """``split_by_parity`` of a score table's cells by their official NB-201 index."""
    cells = list(values.index)
    return split_by_parity(cells, [bench.index_of(c) for c in cells])


def label_free_pool(columns: Sequence[str]) -> list[str]:
    """The registered label-free single proxies among ``columns``, in column order."""
    registered = set(list_proxies())
    return [c for c in columns if c in registered and not get_proxy(c).needs_labels
            and "ensemble" not in get_proxy(c).tags]


def seconds_per_cell(seconds: pd.DataFrame) -> dict[str, float]:
    """Mean seconds per computed cell of each proxy (cells sharing an isomorphic copy's score carry 0 s)."""
    return {str(k): float(v) for k, v in seconds.where(seconds > 0).mean().items()}


def choose(values: pd.DataFrame, targets: pd.Series, pool: Sequence[str], seconds: Mapping[str, float],
           max_members: int = MAX_MEMBERS, tolerance: float = TOLERANCE) -> tuple[pd.DataFrame, pd.Series]:
    """Every candidate ensemble on ``values``'s rows and the one the stated rule picks."""
    candidates = search_ensembles(values, targets, pool, RULES, max_members, seconds)
    return candidates, choose_ensemble(candidates, tolerance)


def chosen_spec(row: pd.Series) -> tuple[tuple[str, ...], str]:
    """Members and rule of a candidate row (a single proxy's rule "-" reads as mean_rank: its own ranks)."""
    return tuple(row["members"].split(",")), (row["rule"] if row["rule"] != "-" else "mean_rank")


def reference_values(values: pd.DataFrame, members: Sequence[str]) -> dict[str, tuple[float, ...]]:
    """Each member's finite values, sorted: the reference sample one cell is ranked against."""
    out = {}
    for m in members:
        v = values[m].to_numpy(dtype=float, na_value=np.nan)
        out[m] = tuple(float(x) for x in np.sort(v[np.isfinite(v)]))
    return out


def against_reference(values: pd.DataFrame, members: Sequence[str], rule: str,
                      reference: Mapping[str, Sequence[float]]) -> pd.Series:
    """The per-cell ensemble value (what ``compute_proxies`` returns) of every row, against ``reference``."""
    fractions = []
    for m in members:
        v = values[m].to_numpy(dtype=float, na_value=np.nan)
        v = np.where(np.isfinite(v), v, np.nan)
        fractions.append(reference_fractions(v, np.array(reference[m]), get_proxy(m).higher_is_better))
    return pd.Series(combine(fractions, rule), index=values.index)


def with_ensembles(values: pd.DataFrame, seconds: pd.DataFrame,
                   ensembles: Mapping[str, tuple[pd.Series, Sequence[str]]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``values`` / ``seconds`` with one more column per ensemble: its values and its members' summed seconds
    (the cost of computing the members on their own; shared passes make the real cost lower)."""
    v, s = values.copy(), seconds.copy()
    for name, (series, members) in ensembles.items():
        v[name] = series.loc[v.index]
        s[name] = seconds[list(members)].where(seconds[list(members)] > 0).fillna(0.0).sum(axis=1)
    return v, s


def report(values: pd.DataFrame, seconds: pd.DataFrame, targets: pd.Series, dataset: str,
           published: Mapping[str, tuple[str, str, str]] = PUBLISHED) -> pd.DataFrame:
    """Spearman, Kendall, top-10% overlap, NaN count and seconds per cell of every column, best first, with
    the published figure beside it."""
    directions = {c: get_proxy(c).higher_is_better for c in values.columns if c in set(list_proxies())}
    summary = correlation_summary(values, seconds, targets, higher_is_better=directions)
    col = 0 if dataset == "cifar10" else 1
    out = pd.DataFrame({
        "spearman": summary["spearman"], "kendall": summary["kendall"],
        "top10_overlap": summary["top10_overlap"], "n": summary["n"], "n_nan": summary["n_nan"],
        "s_per_cell": summary["sec_per_cell"],
    })
    labels = {c: c.split(" ")[0] for c in out.index}
    out["published"] = [published.get(labels[c], ("", "", ""))[col] for c in out.index]
    out["source"] = [published.get(labels[c], ("", "", ""))[2] if out.loc[c, "published"] else "" for c in out.index]
    kinds = []
    for c in out.index:
        name = labels[c]
        if name in set(list_proxies()) and "ensemble" not in get_proxy(name).tags:
            spec = get_proxy(name)
            kinds.append("needs labels" if spec.needs_labels else ("data-free" if spec.data_free else "label-free"))
        else:
            kinds.append("ensemble")
    out.insert(0, "kind", kinds)
    out.index.name = "proxy"
    return out.sort_values("spearman", ascending=False)


def paired_gap(a: pd.Series, b: pd.Series, targets: pd.Series, repeats: int = 1000,
               seed: int = 0) -> tuple[float, float, float]:
    """Spearman(a) - Spearman(b) on the cells both score, and its 95% paired-bootstrap interval (the same
    resampled cells for both, ``numpy.random.default_rng(seed)``)."""
    cells = a.index[np.isfinite(a.to_numpy(float)) & np.isfinite(b.loc[a.index].to_numpy(float))]
    x, y, t = (s.loc[cells].to_numpy(float) for s in (a, b, targets))
    rng = np.random.default_rng(seed)
    gaps = []
    for _ in range(repeats):
        i = rng.integers(0, len(cells), size=len(cells))
        gaps.append(spearman(x[i], t[i]).value - spearman(y[i], t[i]).value)
    low, high = np.percentile(gaps, [2.5, 97.5])
    return spearman(x, t).value - spearman(y, t).value, float(low), float(high)


def frozen_module_text(choices: Mapping[str, Mapping[str, Any]],
                       references: Mapping[str, Mapping[str, Sequence[float]]], note: str) -> str:
    """The generated ``ensemble_reference.py``: chosen members and rules, and the reference samples."""
    lines = [
        '"""Frozen choices and reference samples of the registered ensembles (generated; do not edit by hand).',
        "",
        "Written by ``benchmarks/ensemble_study.py --freeze``; see docs/results/ensemble.md for the sample, the",
        "split, the choice rule and the figures on the held-out cells.",
        '"""',
        "",
        f"REFERENCE_NOTE = {note!r}",
        "",
        "#: ensemble name -> how the study chose it: members, rule, NaN policy, the split and its selection Spearman.",
        "CHOICES: dict[str, dict[str, object]] = {",
    ]
    for name, choice in choices.items():
        lines.append(f"    {name!r}: {{")
        for key, value in choice.items():
            lines.append(f"        {key!r}: {value!r},")
        lines.append("    },")
    lines += ["}", "", "#: ensemble name -> member proxy -> the member's values on the reference cells, sorted.",
              "REFERENCES: dict[str, dict[str, tuple[float, ...]]] = {"]
    for name, members in references.items():
        lines.append(f"    {name!r}: {{")
        for member, vals in members.items():
            lines.append(f"        {member!r}: (")
            row: list[str] = []
            for v in vals:
                row.append(repr(float(v)))
                if len(row) == 5:
                    lines.append("            " + ", ".join(row) + ",")
                    row = []
            if row:
                lines.append("            " + ", ".join(row) + ",")
            lines.append("        ),")
        lines.append("    },")
    lines += ["}", ""]
    return "\n".join(lines)


def write_frozen(path: Path, text: str) -> None:
    """Write the generated module atomically."""
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def study(results: Path = RESULTS) -> dict[str, Any]:
    """Everything the study computes, as data (tables, the choice, the reference), without printing."""
    bench = ground_truth("nb201")
    values, seconds = load_tables([results / f for f in C10_TABLES])
    targets = bench.column(TARGETS["cifar10"])
    even, odd = split_table(values, bench)
    pool = label_free_pool(list(values.columns))
    per_cell = seconds_per_cell(seconds)
    candidates, row = choose(values.loc[even], targets, pool, per_cell)
    members, rule = chosen_spec(row)
    reference = reference_values(values.loc[even], members)
    az = get_ensemble("aznas")
    az_reference = reference_values(values.loc[even], az.members)

    held = values.loc[odd]
    best_members, best_rule = chosen_spec(candidates.iloc[0])
    other_rule = "mean_rank" if rule == "log_rank" else "log_rank"
    ensembles = {
        f"{NAME} (ranked within the held-out cells)": (ensemble_scores(held, members, rule), members),
        f"{NAME} (per cell, against the frozen reference)": (against_reference(held, members, rule, reference),
                                                              members),
        f"{NAME} members under {other_rule}": (ensemble_scores(held, members, other_rule), members),
        "aznas (our components, AZ-NAS's rule)": (ensemble_scores(held, az.members, az.rule), az.members),
    }
    if (best_members, best_rule) != (members, rule):
        ensembles[f"best on selection: {best_rule}({','.join(best_members)})"] = (
            ensemble_scores(held, best_members, best_rule), best_members)
    v, s = with_ensembles(held, seconds.loc[odd], ensembles)
    c10 = report(v, s, targets, "cifar10")
    zc_label = f"{NAME} (ranked within the held-out cells)"
    best_single = c10[c10["kind"] != "ensemble"].index[0]
    gap = {"versus": best_single, "gap": paired_gap(v[zc_label], v[best_single], targets)}

    # the same rule with the halves swapped: does it choose the same, and how does that do on the other half?
    swapped_candidates, swapped_row = choose(values.loc[odd], targets, pool, per_cell)
    s_members, s_rule = chosen_spec(swapped_row)
    swapped = {
        "members": s_members, "rule": s_rule, "selection_spearman": float(swapped_row["spearman"]),
        "held_out_spearman": spearman(ensemble_scores(values.loc[even], s_members, s_rule).to_numpy(),
                                      targets.loc[even].to_numpy()).value,
    }

    out: dict[str, Any] = {
        "bench": bench, "pool": pool, "candidates": candidates, "row": row, "members": members, "rule": rule,
        "even": even, "odd": odd, "reference": reference, "aznas_reference": az_reference, "cifar10": c10,
        "swapped": swapped, "seconds": per_cell, "gap": gap,
    }
    c100_folder = results / C100_HELD_OUT
    if (c100_folder / "config.json").exists() or c100_folder.is_dir():
        v100, s100 = load_tables([c100_folder])
        t100 = bench.column(TARGETS["cifar100"])
        e100 = {f"{NAME} (ranked within the held-out cells)": (ensemble_scores(v100, members, rule), members)}
        if all(m in v100.columns for m in az.members):
            e100["aznas (our components, AZ-NAS's rule)"] = (ensemble_scores(v100, az.members, az.rule), az.members)
        v100, s100 = with_ensembles(v100, s100, e100)
        out["cifar100"] = report(v100, s100, t100, "cifar100")
    out["datafree_all"] = datafree_all(results, bench)
    return out


def datafree_all(results: Path, bench: BenchmarkTable) -> dict[str, pd.DataFrame]:
    """The data-free proxies over all 15,625 cells: each one, and the ensemble the same rule picks from them on
    the even-index cells, reported on the odd-index ones."""
    out = {}
    for dataset, folder in DATAFREE_ALL.items():
        if not (results / folder).is_dir():
            continue
        values, seconds = load_tables([results / folder])
        targets = bench.column(TARGETS[dataset])
        even, odd = split_table(values, bench)
        pool = label_free_pool(list(values.columns))
        _, row = choose(values.loc[even], targets, pool, seconds_per_cell(seconds), max_members=len(pool))
        members, rule = chosen_spec(row)
        label = f"chosen on even cells: {rule}({','.join(members)})"
        ens = {label: (ensemble_scores(values.loc[odd], members, rule), members)}
        v, s = with_ensembles(values.loc[odd], seconds.loc[odd], ens)
        out[dataset] = report(v, s, targets, dataset)
    return out


def choice_entry(result: Mapping[str, Any]) -> dict[str, object]:
    """The frozen description of the chosen ensemble."""
    row = result["row"]
    return {
        "members": tuple(result["members"]),
        "rule": result["rule"],
        "nan_policy": "worst",
        "chosen_on": f"the {len(result['even'])} even-index cells of the seeded 1,000-cell NB-201 sample (seed 0), "
                     f"CIFAR-10, Spearman against {TARGETS['cifar10']}",
        "selection_spearman": round(float(row["spearman"]), 6),
        "rule_of_choice": f"all 1-{MAX_MEMBERS}-member sets of the label-free pool under {' / '.join(RULES)}; "
                          f"within {TOLERANCE} of the best, the cheapest, then the fewest members",
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder holding the committed score tables")
    parser.add_argument("--freeze", action="store_true", help=f"write the choice and references to {FROZEN_MODULE}")
    parser.add_argument("--markdown", type=Path, help="also write the printed tables to this Markdown file")
    args = parser.parse_args(argv)

    result = study(args.results)
    lines: list[str] = []
    lines.append(f"Pool (label-free, {len(result['pool'])}): {', '.join(result['pool'])}")
    lines.append(f"Selection: {len(result['even'])} even-index cells; held out: {len(result['odd'])} odd-index cells")
    top = result["candidates"].head(12).copy()
    top["s_per_cell"] = top.pop("seconds")
    lines += ["", "### Selection half: the best candidates (CIFAR-10)", "", markdown_table(top, index=False)]
    lines += ["", f"Chosen by the rule: {result['rule']}({','.join(result['members'])}), selection Spearman "
              f"{result['row']['spearman']:.3f}, summed s/cell {result['row']['seconds']:.2f}"]
    sw = result["swapped"]
    lines.append(f"Halves swapped (choose on odd, report on even): {sw['rule']}({','.join(sw['members'])}), "
                 f"selection {sw['selection_spearman']:.3f}, held out {sw['held_out_spearman']:.3f}")
    lines += ["", f"### Held-out half, CIFAR-10 ({len(result['odd'])} cells, target {TARGETS['cifar10']})", "",
              markdown_table(result["cifar10"])]
    g, low, high = result["gap"]["gap"]
    lines += ["", f"{NAME} minus the best single proxy ({result['gap']['versus']}) on the held-out half: "
              f"{g:+.3f} Spearman (95% paired bootstrap {low:+.3f} .. {high:+.3f}, 1,000 resamples, seed 0)"]
    if "cifar100" in result:
        n = int(result["cifar100"]["n"].max())
        lines += ["", f"### Held-out half, CIFAR-100 ({n} cells, target {TARGETS['cifar100']}; members chosen "
                  "on CIFAR-10)", "", markdown_table(result["cifar100"])]
    for dataset, table in result["datafree_all"].items():
        lines += ["", f"### Data-free proxies, odd-index half of all 15,625 cells, {dataset} "
                  f"(target {TARGETS[dataset]})", "", markdown_table(table)]
    text = "\n".join(lines)
    print(text)
    if args.markdown is not None:
        with atomic_open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    if args.freeze:
        note = (f"the members' values on the {len(result['even'])} even-index cells of the seeded 1,000-cell "
                "NB-201 CIFAR-10 sample (seed 0)")
        references = {NAME: result["reference"], "aznas": result["aznas_reference"]}
        write_frozen(FROZEN_MODULE, frozen_module_text({NAME: choice_entry(result)}, references, note))
        print(f"\nfroze {NAME} = {result['rule']}({','.join(result['members'])}) and the references of "
              f"{', '.join(references)} into {FROZEN_MODULE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
