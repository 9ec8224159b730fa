"""Label-free rank ensembles of proxies: the rules, the registry, and the registered ensembles as proxies.

An ensemble combines its members' *ranks*, so it needs a population:
- over a whole scored table (``zcnas.evaluation.ensemble.ensemble_scores``), each member is ranked among the
  table's cells (``population_fractions``: rank / N, 1 = lowest, ties averaged), as AZ-NAS does;
- for one cell at a time (``compute_proxies``, a search that scores cells one by one), each member is ranked
  against a *fixed reference sample* frozen with the ensemble (``reference_fractions``: the cell's rank
  among the reference values plus itself, (1 + #below + ½·#equal) / (M + 1)). A cell's value then never
  changes as more cells are scored, and two cells compare the same way whatever else was scored.

Rules: ``"mean_rank"`` is the mean of the members' rank fractions (rank averaging); ``"log_rank"`` is
Σ log(rank fraction), AZ-NAS's non-linear aggregation, which punishes a cell that any member ranks low.

NaN members: ``nan_policy="worst"`` (the default) ranks a NaN member value below every finite one (ties among
NaNs share the average of the lowest ranks; against a reference it takes fraction 1/(M + 1)), as AZ-NAS's −inf
does; ``"propagate"`` makes the ensemble NaN wherever a member is NaN (over a table the others are then ranked
among the rows where every member is finite).

Example:
    >>> import numpy as np
    >>> population_fractions(np.array([3.0, 1.0, np.nan, 2.0]))
    array([1.  , 0.5 , 0.25, 0.75])
    >>> reference_fractions(np.array([2.5]), np.array([1.0, 2.0, 3.0]))
    array([0.75])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from zcnas.proxies.ensemble_reference import CHOICES, REFERENCE_NOTE, REFERENCES
from zcnas.proxies.passes import NotFinite, ProxyContext
from zcnas.proxies.registry import get_proxy, list_proxies, register_proxy, unregister_proxy

__all__ = [
    "NAN_POLICIES",
    "RULES",
    "EnsembleSpec",
    "combine",
    "get_ensemble",
    "list_ensembles",
    "population_fractions",
    "reference_fractions",
    "register_ensemble",
    "unregister_ensemble",
]

RULES = ("mean_rank", "log_rank")
NAN_POLICIES = ("worst", "propagate")


@dataclass(frozen=True)
class EnsembleSpec:
    """A registered ensemble: its members, rule, NaN policy and (optionally) its frozen reference sample.

    ``reference`` maps each member to its sorted reference values; only an ensemble with a reference is also
    a proxy (``compute_proxies`` can score one cell with it).
    """

    name: str
    members: tuple[str, ...]
    rule: str
    nan_policy: str = "worst"
    reference: Mapping[str, tuple[float, ...]] | None = None
    paper: str = ""
    description: str = ""
    higher_is_better: Mapping[str, bool] = field(default_factory=dict)


_ENSEMBLES: dict[str, EnsembleSpec] = {}


def check_rule(rule: str, nan_policy: str) -> None:
    """One ValueError sentence for an unknown rule or NaN policy."""
    if rule not in RULES:
        raise ValueError(f"ensemble rule={rule!r} is not allowed; use one of: {', '.join(RULES)}")
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"ensemble nan_policy={nan_policy!r} is not allowed; use one of: {', '.join(NAN_POLICIES)}")


def _oriented(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values if higher_is_better else -values


def population_fractions(values: np.ndarray, higher_is_better: bool = True, nan_policy: str = "worst",
                         keep: np.ndarray | None = None) -> np.ndarray:
    """Rank / N of each value among ``values`` (1 = lowest, ties averaged); NaN per ``nan_policy``.

    ``keep`` (with ``"propagate"``) restricts the population to those rows; the others are NaN.
    """
    x = _oriented(values, higher_is_better)
    out = np.full(x.shape, np.nan)
    if nan_policy == "worst":
        x = np.where(np.isnan(x), -np.inf, x)
        return stats.rankdata(x, method="average") / len(x) if len(x) else out
    rows = np.isfinite(x) if keep is None else keep
    if rows.any():
        out[rows] = stats.rankdata(x[rows], method="average") / int(rows.sum())
    return out


def reference_fractions(values: np.ndarray, reference: np.ndarray, higher_is_better: bool = True,
                        nan_policy: str = "worst") -> np.ndarray:
    """Each value's rank among the reference values plus itself, over M + 1: (1 + #below + ½·#equal)/(M + 1).

    NaN counts as below every reference value under ``"worst"`` and stays NaN under ``"propagate"``.
    """
    ref = np.sort(_oriented(reference, higher_is_better))
    x = _oriented(values, higher_is_better)
    below = np.searchsorted(ref, x, side="left").astype(float)
    equal = np.searchsorted(ref, x, side="right") - below
    fractions = (1.0 + below + 0.5 * equal) / (len(ref) + 1)
    nan = np.isnan(x)
    fractions[nan] = 1.0 / (len(ref) + 1) if nan_policy == "worst" else np.nan
    return fractions


def combine(fractions: Sequence[np.ndarray], rule: str) -> np.ndarray:
    """Combine per-member rank fractions: their mean (``mean_rank``) or Σ log (``log_rank``).

    Example:
        >>> combine([np.array([1.0, 0.5]), np.array([0.5, 0.5])], "log_rank").round(4).tolist()
        [-0.6931, -1.3863]
    """
    stack = np.vstack([np.asarray(f, dtype=float) for f in fractions])
    if rule == "mean_rank":
        return stack.mean(axis=0)
    if rule == "log_rank":
        return np.log(stack).sum(axis=0)
    raise ValueError(f"ensemble rule={rule!r} is not allowed; use one of: {', '.join(RULES)}")


def register_ensemble(
    name: str,
    members: Sequence[str],
    rule: str,
    *,
    nan_policy: str = "worst",
    reference: Mapping[str, Sequence[float]] | None = None,
    paper: str = "",
    description: str = "",
) -> EnsembleSpec:
    """Register an ensemble of registered proxies; with a ``reference`` it is also registered as a proxy.

    Example:
        >>> spec = register_ensemble("doc_pair", ["synflow", "params"], "mean_rank")
        >>> get_ensemble("doc_pair").members
        ('synflow', 'params')
        >>> unregister_ensemble("doc_pair")
    """
    check_rule(rule, nan_policy)
    members = tuple(members)
    if len(members) < 1 or len(set(members)) != len(members):
        raise ValueError(f"ensemble {name!r} needs distinct member proxies; got {list(members)}")
    specs = [get_proxy(m) for m in members]
    if name in _ENSEMBLES:
        raise KeyError(f"an ensemble named {name!r} is already registered")
    frozen = None
    if reference is not None:
        missing = [m for m in members if m not in reference or len(reference[m]) == 0]
        if missing:
            raise ValueError(f"ensemble {name!r}: the reference has no values for member(s) {missing}")
        frozen = {m: tuple(sorted(float(v) for v in reference[m])) for m in members}
    spec = EnsembleSpec(name, members, rule, nan_policy, frozen, paper, description,
                        {s.name: s.higher_is_better for s in specs})
    if frozen is not None:
        register_proxy(
            name,
            needs_labels=any(s.needs_labels for s in specs),
            input_kind="data" if any(s.input_kind == "data" for s in specs) else "gaussian",
            data_free=all(s.data_free for s in specs),
            passes=tuple(sorted(set().union(*(s.passes for s in specs)))),
            tags=("ensemble",),
            paper=paper or "zcnas rank ensemble",
            description=description or f"{rule} of {', '.join(members)} against a frozen reference sample",
        )(lambda ctx: _score_one(ctx, spec))
    _ENSEMBLES[name] = spec
    return spec


def unregister_ensemble(name: str) -> None:
    """Remove an ensemble (and its proxy, when it has one)."""
    spec = _ENSEMBLES.pop(name, None)
    if spec is not None and spec.reference is not None:
        unregister_proxy(name)


def get_ensemble(name: str) -> EnsembleSpec:
    """The spec of a registered ensemble; an unknown name raises ValueError listing the known ones."""
    list_proxies()  # loads the built-in proxies, and with them the built-in ensembles
    try:
        return _ENSEMBLES[name]
    except KeyError:
        raise ValueError(f"unknown ensemble {name!r}; known ensembles: {', '.join(sorted(_ENSEMBLES))}") from None


def list_ensembles() -> list[str]:
    """Names of the registered ensembles, sorted."""
    list_proxies()
    return sorted(_ENSEMBLES)


def _score_one(ctx: ProxyContext, spec: EnsembleSpec) -> float:
    """One cell's ensemble value against the frozen reference, members computed on the shared context."""
    assert spec.reference is not None
    fractions, reasons = [], []
    for member in spec.members:
        member_spec = get_proxy(member)
        try:
            value = float(member_spec.fn(ctx, **member_spec.defaults))
        except NotFinite as exc:
            value, reason = math.nan, str(exc)
        else:
            reason = f"{member} is {value}"
        if not math.isfinite(value):
            reasons.append(reason)
            value = math.nan
        fractions.append(reference_fractions(np.array([value]), np.array(spec.reference[member]),
                                             spec.higher_is_better[member], spec.nan_policy))
    if spec.nan_policy == "propagate" and reasons:
        raise NotFinite(f"{spec.name}: member(s) are NaN: {'; '.join(reasons)}")
    return float(combine(fractions, spec.rule)[0])


# --- the built-in ensembles ------------------------------------------------------------------------------------

register_ensemble(
    "aznas",
    ("aznas_expressivity", "aznas_progressivity", "aznas_trainability", "flops"),
    "log_rank",
    reference=REFERENCES.get("aznas"),
    paper="Lee & Ham, AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture Search, CVPR 2024",
    description="AZ-NAS: sum of log(rank/N) of expressivity, progressivity, trainability and FLOPs; one cell is "
                "ranked against " + REFERENCE_NOTE,
)

if "zc_ensemble" in CHOICES:
    _ZC = CHOICES["zc_ensemble"]
    register_ensemble(
        "zc_ensemble",
        tuple(_ZC["members"]),  # type: ignore[arg-type]
        str(_ZC["rule"]),
        nan_policy=str(_ZC["nan_policy"]),
        reference=REFERENCES.get("zc_ensemble"),
        paper="zcnas: the recommended label-free ensemble, chosen on " + str(_ZC["chosen_on"]),
        description=f"{_ZC['rule']} of {', '.join(_ZC['members'])} (chosen by benchmarks/ensemble_study.py; "  # type: ignore[arg-type]
                    "docs/results/ensemble.md); one cell is ranked against " + REFERENCE_NOTE,
    )
