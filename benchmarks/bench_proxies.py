"""Benchmark: the paper's six proxies on seeded NB-201 cells at batch 64, shared passes vs the reference's way.

Run:  .venv/bin/python benchmarks/bench_proxies.py [--cells 20] [--batch-size 64] [--threads 1]
          [--grasp-hessian central_difference,forward_difference] [--extra NAMES] [--csv PATH]

For each cell, in the same run and interleaved (so machine noise hits both alike):
- shared: ``zcnas.compute_proxies`` with the six at once (one forward; the loss gradient with create_graph,
  the input gradient and the Hessian-gradient product from that same forward);
- reference way: each proxy on its own deep copy with its own passes, as SamsungLabs/zero-cost-nas does
  (grasp: a forward/backward for g, then a second forward with create_graph and the Hessian-gradient product).
It prints the median per-cell seconds of each, their ratio, and the largest relative difference of the scores.

``--grasp-hessian`` adds, interleaved in the same loop, the six with grasp's opt-in finite-difference Hessian
product (``options={"grasp": {"hessian": ...}}``), one timing per mode: its median, its ratio against the
reference way, and the Spearman ρ of its grasp against the exact grasp over the cells.

Then, in the same run and on the same cells and batches, each of the later proxies (NASWOT, ZiCo, MeCo,
MeCo_opt, SWAP, reg-SWAP, Zen-NAS, AZ-NAS's components) and each registered ensemble proxy (``zc_ensemble``,
``aznas``) is timed alone with ``compute_proxies`` (``--extra`` picks others), interleaved with the six so that
machine noise hits them alike; it prints each one's median seconds per cell and its ratio to the six's
shared-pass median. ``--csv`` writes that table.
"""

from __future__ import annotations

import argparse
import copy
import csv
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr
from torch import nn

import zcnas
from zcnas.data import minibatch
from zcnas.proxies.jacob_cov import jacobian_score
from zcnas.proxies.passes import DEFAULT_LAYER_TYPES, fan_in, remove_batchnorm, scored_layers
from zcnas.spaces import nb201

SIX = ("grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov")
LATER = ("naswot", "zico", "meco", "meco_opt", "swap", "reg_swap", "zen", "aznas_expressivity",
         "aznas_progressivity", "aznas_trainability")


def default_extra() -> list[str]:
    """The later proxies and every registered ensemble proxy."""
    return [*LATER, *zcnas.list_proxies(tag="ensemble")]


def _copy(net: nn.Module) -> nn.Module:
    c = copy.deepcopy(net).train()
    for p in c.parameters():
        p.requires_grad_(True)
    return c


def _weights(net: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in scored_layers(net, DEFAULT_LAYER_TYPES)]


def _loss_grads(net: nn.Module, x, y, **kw):
    w = _weights(net)
    return w, torch.autograd.grad(F.cross_entropy(net(x), y), w, allow_unused=True, **kw)


def reference_way(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Each proxy on its own copy with its own passes, as the reference runs them."""
    out = {}
    w, g = _loss_grads(_copy(net), x, y)
    out["grad_norm"] = sum(float(gi.norm()) for gi in g if gi is not None)
    w, g = _loss_grads(_copy(net), x, y)
    out["snip"] = sum(float((wi.detach() * gi).abs().sum()) for wi, gi in zip(w, g) if gi is not None)

    c = _copy(net)
    w, g1 = _loss_grads(c, x, y)                               # pass 1: g
    w, g2 = _loss_grads(c, x, y, create_graph=True)            # pass 2: graph of the gradient
    z = sum((a.detach() * b).sum() for a, b in zip(g1, g2) if a is not None and b is not None and b.requires_grad)
    hg = torch.autograd.grad(z, w, allow_unused=True)
    out["grasp"] = sum(float((-wi.detach() * h).sum()) for wi, h in zip(w, hg) if h is not None)

    c = _copy(net)
    layers = scored_layers(c, DEFAULT_LAYER_TYPES)
    acts: dict[int, torch.Tensor] = {}
    hooks = [m.register_forward_hook(lambda m, i, o, k=k: acts.__setitem__(k, o)) for k, m in enumerate(layers)]
    loss = F.cross_entropy(c(x), y)
    for h in hooks:
        h.remove()
    keys = sorted(acts)
    grads = torch.autograd.grad(loss, [acts[k] for k in keys], allow_unused=True)
    fisher = 0.0
    for k, gz in zip(keys, grads):
        if gz is not None:
            prod = acts[k].detach() * gz
            s = prod.sum(dim=tuple(range(2, prod.dim()))) if prod.dim() > 2 else prod
            fisher += fan_in(layers[k].weight) * float(s.pow(2).mean(0).mul(0.5).abs().sum())
    out["fisher"] = fisher

    c = _copy(net)
    xx = x.clone().requires_grad_(True)
    (jac,) = torch.autograd.grad(c(xx).sum(), xx)
    try:
        out["jacob_cov"] = jacobian_score(jac.reshape(len(jac), -1).numpy())
    except Exception:
        out["jacob_cov"] = float("nan")

    c = _copy(net)
    remove_batchnorm(c, "reference")
    with torch.no_grad():
        for t in c.state_dict().values():
            t.abs_()
    c = c.double()
    w = _weights(c)
    g = torch.autograd.grad(c(torch.ones(1, *x.shape[1:], dtype=torch.float64)).sum(), w, allow_unused=True)
    out["synflow"] = sum(float((wi.detach() * gi).abs().sum()) for wi, gi in zip(w, g) if gi is not None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reference-compatible", action="store_true")
    parser.add_argument("--extra", default=None,
                        help="comma-separated proxies to time alone beside the six (default: the later proxies "
                             "and the ensembles); 'none' for none")
    parser.add_argument("--csv", default=None, help="write the per-proxy medians to this CSV")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--grasp-hessian", default="",
                        help="comma-separated finite-difference modes of grasp to time beside the exact six")
    parser.add_argument("--fd-eta", type=float, default=None, help="grasp's fd_eta for those modes")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    modes = [m for m in args.grasp_hessian.split(",") if m]
    fd_t: dict[str, list[float]] = {m: [] for m in modes}
    fd_grasp: dict[str, list[float]] = {m: [] for m in modes}
    exact_grasp: list[float] = []
    extra = default_extra() if args.extra is None else [] if args.extra == "none" else args.extra.split(",")

    archs = nb201.sample(args.cells, np.random.default_rng(args.seed))
    shared_t, ref_t, worst = [], [], 0.0
    extra_t: dict[str, list[float]] = {name: [] for name in extra}
    for i, arch in enumerate(archs):
        net = nb201.build_model(arch, reference_compatible=args.reference_compatible, seed=i)
        x, y = minibatch("cifar10", batch_size=args.batch_size, seed=i)
        t0 = time.perf_counter()
        shared = zcnas.compute_proxies(net, x, y, list(SIX))
        t1 = time.perf_counter()
        ref = reference_way(net, x, y)
        t2 = time.perf_counter()
        shared_t.append(t1 - t0)
        ref_t.append(t2 - t1)
        exact_grasp.append(shared["grasp"])
        for mode in modes:
            opts = {"hessian": mode, **({} if args.fd_eta is None else {"fd_eta": args.fd_eta})}
            start = time.perf_counter()
            fd = zcnas.compute_proxies(net, x, y, list(SIX), options={"grasp": opts})
            fd_t[mode].append(time.perf_counter() - start)
            fd_grasp[mode].append(fd["grasp"])
        for name in extra:
            start = time.perf_counter()
            zcnas.compute_proxies(net, x, y, [name], seed=i)
            extra_t[name].append(time.perf_counter() - start)
        for name in SIX:
            a, b = shared[name], ref[name]
            if np.isfinite(a) and np.isfinite(b) and b != 0:
                worst = max(worst, abs(a - b) / abs(b))
            elif np.isfinite(a) != np.isfinite(b):
                worst = float("inf")
    ms, mr = statistics.median(shared_t), statistics.median(ref_t)
    print(f"cells: {args.cells}, batch {args.batch_size}, torch threads {torch.get_num_threads()}")
    print(f"median s/cell  shared passes: {ms:.3f}   reference way: {mr:.3f}   speed-up: {mr / ms:.2f}x")
    print(f"largest relative score difference (float32): {worst:.2e}")
    for mode in modes:
        mf = statistics.median(fd_t[mode])
        rho = spearmanr(exact_grasp, fd_grasp[mode]).statistic
        diff, base = np.abs(np.subtract(fd_grasp[mode], exact_grasp)), np.abs(exact_grasp)
        rel = float(np.median(diff[base > 0] / base[base > 0])) if (base > 0).any() else float("nan")
        print(f"six with grasp hessian={mode} (fd_eta {args.fd_eta or 'default'}): {mf:.3f} s/cell   "
              f"speed-up vs reference way: {mr / mf:.2f}x   vs exact shared: {ms / mf:.2f}x   "
              f"Spearman(grasp fd, exact): {rho:.4f}   median |rel. diff|: {rel:.1e}")
    if extra:
        print(f"\n{'proxy':22s} {'median s/cell':>13s} {'ratio to the six (shared)':>26s}")
        rows = [("paper six, shared passes", ms, 1.0), ("paper six, reference way", mr, mr / ms)]
        rows += [(name, statistics.median(t), statistics.median(t) / ms) for name, t in extra_t.items()]
        for name, median, ratio in rows:
            print(f"{name:22s} {median:13.3f} {ratio:26.2f}")
        if args.csv:
            with open(args.csv, "w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(["proxy", "median_seconds", "ratio_to_six_shared", "cells", "batch_size", "threads"])
                for name, median, ratio in rows:
                    writer.writerow([name, f"{median:.4f}", f"{ratio:.3f}", args.cells, args.batch_size,
                                     torch.get_num_threads()])


if __name__ == "__main__":
    main()
