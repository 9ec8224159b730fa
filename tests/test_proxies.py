"""The proxies against their definitions: reference values, closed forms, invariants, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import small_cnn
from torch import nn

import zcnas
from zcnas.proxies.registry import paper_proxies, register_proxy, unregister_proxy
from zcnas.spaces import nb201


def tiny_nb201(arch_ops=(3, 2, 4, 1, 3, 0), dtype=torch.float64, reference_compatible=True, seed=0):
    net = nb201.build_model(nb201.arch_from_ops(arch_ops), num_classes=5, channels=4, cells_per_stage=1,
                            reference_compatible=reference_compatible, seed=seed)
    return net.to(dtype)


# --- the reference implementation's own numbers -------------------------------------------------------------

def test_reproduces_reference_values(reference_case):
    net, x, y, expected = reference_case
    scores = zcnas.compute_proxies(net, x, y, proxies=list(expected))
    for name, want in expected.items():
        if name == "grasp":
            assert scores[name] == pytest.approx(want, rel=1e-3, abs=1e-7), name
        else:
            assert scores[name] == pytest.approx(want, rel=1e-5), name


def test_reference_values_one_proxy_at_a_time(reference_case):
    net, x, y, expected = reference_case
    scores = zcnas.compute_proxies(net, x, y, proxies=list(expected), share_passes=False)
    for name, want in expected.items():
        assert scores[name] == pytest.approx(want, rel=1e-3 if name == "grasp" else 1e-5, abs=1e-7), name


# --- closed forms on a single Linear layer ------------------------------------------------------------------

@pytest.fixture
def linear_case():
    g = torch.Generator().manual_seed(3)
    n, d, k = 7, 5, 4
    net = nn.Linear(d, k).double()
    with torch.no_grad():
        net.weight.copy_(torch.randn(k, d, generator=g, dtype=torch.float64))
        net.bias.copy_(torch.randn(k, generator=g, dtype=torch.float64))
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randint(0, k, (n,), generator=g)
    return net, x, y


def closed_forms(net: nn.Linear, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    W = net.weight.detach().numpy()
    b = net.bias.detach().numpy()
    X = x.numpy()
    n, d = X.shape
    k = W.shape[0]
    Z = X @ W.T + b
    P = np.exp(Z - Z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    Y = np.eye(k)[y.numpy()]
    dZ = (P - Y) / n                      # dL/dz for the mean cross-entropy
    G = dZ.T @ X                          # dL/dW
    # Hessian-vector product with direction G: (1/n) Σ_n [(diag p - p pᵀ)(G x_n)] x_nᵀ
    Hg = np.zeros_like(W)
    for i in range(n):
        p = P[i]
        jac = np.diag(p) - np.outer(p, p)
        Hg += np.outer(jac @ (G @ X[i]), X[i]) / n
    s = Z * dZ                            # fisher: no spatial axes for a Linear output
    fisher_c = 0.5 * (s**2).mean(0)
    J = np.tile(W.sum(0), (n, 1))         # d(Σ_k y_k)/dx is the same row for every sample
    corr = np.corrcoef(J)
    lam = np.linalg.eigvalsh(corr)
    kk = 1e-5
    return {
        "grad_norm": float(np.linalg.norm(G)),
        "snip": float(np.abs(W * G).sum()),
        "plain": float((W * G).sum()),
        "grasp": float((-W * Hg).sum()),
        "fisher": float(d * fisher_c.sum()),
        "synflow": float(np.abs(W).sum()),   # R = Σ_k (Σ_d |W_kd| + |b_k|) on ones: dR/dW = 1
        "jacob_cov": float(-np.sum(np.log(lam + kk) + 1 / (lam + kk))),
        "l2_norm": float(np.linalg.norm(W)),
        "params": float(k * d + k),
        "flops": float(2 * k * d),
    }


def test_linear_layer_closed_forms(linear_case):
    net, x, y = linear_case
    want = closed_forms(net, x, y)
    got = zcnas.compute_proxies(net, x, y, proxies=list(want))
    for name, value in want.items():
        assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


def test_jacob_cov_symmetric_solver_option(linear_case):
    net, x, y = linear_case
    a = zcnas.compute_proxies(net, x, y, ["jacob_cov"])["jacob_cov"]
    b = zcnas.compute_proxies(net, x, y, ["jacob_cov"], options={"jacob_cov": {"eigen_solver": "eigvalsh"}})
    assert b["jacob_cov"] == pytest.approx(a, rel=1e-6)


def test_fisher_fan_in_weighting_is_the_reference_default(linear_case):
    net, x, y = linear_case
    weighted = zcnas.compute_proxies(net, x, y, ["fisher"])["fisher"]
    plain = zcnas.compute_proxies(net, x, y, ["fisher"], options={"fisher": {"fan_in_weighting": False}})["fisher"]
    assert weighted == pytest.approx(net.in_features * plain, rel=1e-12)


def test_grasp_temperature_changes_the_score(linear_case):
    net, x, y = linear_case
    t1 = zcnas.compute_proxies(net, x, y, ["grasp"])["grasp"]
    t200 = zcnas.compute_proxies(net, x, y, ["grasp"], options={"grasp": {"temperature": 200.0}})["grasp"]
    assert t1 != pytest.approx(t200)


# --- synflow's BatchNorm handling (the NB-201 reduction-block quirk) ----------------------------------------

def test_synflow_removes_bn_except_where_the_reference_keeps_it():
    net = tiny_nb201()
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64)
    ref = zcnas.compute_proxies(net, x, proxies=["synflow"])["synflow"]
    all_removed = zcnas.compute_proxies(net, x, proxies=["synflow"],
                                        options={"synflow": {"bn_removal": "all"}})["synflow"]
    kept = zcnas.compute_proxies(net, x, proxies=["synflow_bn"])["synflow_bn"]
    assert len({ref, all_removed, kept}) == 3
    # A model without flagged BatchNorm: the two removal modes agree.
    plain = small_cnn().double()
    a = zcnas.compute_proxies(plain, x, proxies=["synflow"])["synflow"]
    b = zcnas.compute_proxies(plain, x, proxies=["synflow"], options={"synflow": {"bn_removal": "all"}})["synflow"]
    assert a == b


# --- shared passes give the values of one-proxy-at-a-time ---------------------------------------------------

@pytest.mark.parametrize("ops", [(3, 2, 4, 1, 3, 0), (3, 3, 3, 3, 3, 3), (1, 0, 2, 4, 0, 3)])
def test_shared_passes_equal_separate_computation(ops):
    net = tiny_nb201(ops)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 3, 8, 8, generator=g, dtype=torch.float64)
    y = torch.randint(0, 5, (6,), generator=g)
    names = [*paper_proxies(), "plain", "l2_norm", "params", "flops"]
    shared = zcnas.compute_proxies(net, x, y, names)
    alone = {name: zcnas.compute_proxies(net, x, y, [name])[name] for name in names}
    for name in names:
        assert shared[name] == pytest.approx(alone[name], rel=1e-6, abs=1e-12), name


# --- the caller's model comes back untouched ----------------------------------------------------------------

def test_model_untouched():
    net = tiny_nb201(dtype=torch.float32, reference_compatible=False)
    net.eval()
    net.cells[0].requires_grad_(False)
    calls = []
    handle = net.classifier.register_forward_hook(lambda m, i, o: calls.append(1))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    modes = {name: m.training for name, m in net.named_modules()}
    flags = {name: p.requires_grad for name, p in net.named_parameters()}
    x, y = torch.randn(4, 3, 8, 8), torch.randint(0, 5, (4,))
    zcnas.compute_proxies(net, x, y, proxies="all")
    after = net.state_dict()
    assert before.keys() == after.keys()
    for key in before:
        assert torch.equal(before[key], after[key]), key
    assert modes == {name: m.training for name, m in net.named_modules()}
    assert flags == {name: p.requires_grad for name, p in net.named_parameters()}
    assert all(p.grad is None for p in net.parameters())
    assert len(net.classifier._forward_hooks) == 1
    assert all(p.device.type == "cpu" and p.dtype == torch.float32 for p in net.parameters())
    handle.remove()


# --- determinism and batch symmetry -------------------------------------------------------------------------

def test_same_seed_same_scores_bit_for_bit():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 3, 8, 8, generator=g), torch.randint(0, 3, (8,), generator=g)
    a = zcnas.compute_proxies(net, x, y, seed=5)
    b = zcnas.compute_proxies(net, x, y, seed=5)
    c = zcnas.compute_proxies(net, x, y, seed=6)   # dropout masks differ
    assert a == b
    assert a["grad_norm"] != c["grad_norm"]


def test_global_random_state_untouched():
    net = small_cnn()
    x, y = torch.randn(4, 3, 8, 8), torch.randint(0, 10, (4,))
    state = torch.random.get_rng_state()
    zcnas.compute_proxies(net, x, y, seed=3)
    assert torch.equal(state, torch.random.get_rng_state())


def test_scores_unchanged_by_batch_permutation():
    net = tiny_nb201()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(6, 3, 8, 8, generator=g, dtype=torch.float64)
    y = torch.randint(0, 5, (6,), generator=g)
    perm = torch.randperm(6, generator=g)
    names = [*paper_proxies(), "plain"]
    a = zcnas.compute_proxies(net, x, y, names)
    b = zcnas.compute_proxies(net, x[perm], y[perm], names)
    for name in names:
        assert b[name] == pytest.approx(a[name], rel=1e-8, abs=1e-12), name


# --- NaN with a reason --------------------------------------------------------------------------------------

# An all-'none' cell's output does not depend on its input: these proxies are undefined there (each with a
# reason naming the cause), every other one is finite.
UNDEFINED_ON_CONSTANT_OUTPUT = {"jacob_cov", "naswot", "zen", "zico", "aznas_expressivity", "aznas_progressivity"}


def test_all_none_cell_gives_nan_with_reason_where_undefined_and_finite_others():
    net = tiny_nb201((0, 0, 0, 0, 0, 0), dtype=torch.float32)
    x, y = torch.randn(4, 3, 8, 8), torch.randint(0, 5, (4,))
    results = zcnas.compute_proxy_results(net, x, y, proxies="all")
    assert "not finite" in results["jacob_cov"].reason
    for name, r in results.items():
        if name in UNDEFINED_ON_CONSTANT_OUTPUT:
            assert r.status == "nan" and math.isnan(r.value) and r.reason, name
        else:
            assert r.status == "ok" and math.isfinite(r.value), name


def test_jacob_cov_single_sample_is_nan_with_reason():
    r = zcnas.compute_proxy_results(small_cnn(), torch.randn(1, 3, 8, 8), proxies=["jacob_cov"])["jacob_cov"]
    assert r.status == "nan" and "at least 2 samples" in r.reason


def test_errors_can_be_recorded():
    @register_proxy("zz_broken", needs_labels=False)
    def broken(ctx):
        raise RuntimeError("boom")

    try:
        x = torch.randn(2, 3, 8, 8)
        r = zcnas.compute_proxy_results(small_cnn(), x, proxies=["zz_broken", "params"], errors="record")
        assert r["zz_broken"].status == "error" and "boom" in r["zz_broken"].reason
        assert r["params"].status == "ok"
        with pytest.raises(RuntimeError, match="boom"):
            zcnas.compute_proxies(small_cnn(), x, proxies=["zz_broken"])
    finally:
        unregister_proxy("zz_broken")


# --- bad input: one clear sentence --------------------------------------------------------------------------

def test_unknown_proxy_lists_known_ones(tiny_batch):
    x, y = tiny_batch
    with pytest.raises(ValueError, match=r"unknown proxy 'synflw'; known proxies: .*synflow"):
        zcnas.compute_proxies(small_cnn(), x, y, proxies=["synflw"])


def test_missing_labels(tiny_batch):
    x, _ = tiny_batch
    with pytest.raises(ValueError, match=r"\['snip'\] need targets"):
        zcnas.compute_proxies(small_cnn(), x, None, proxies=["synflow", "snip"])


def test_wrong_input_shape_names_the_shape(tiny_batch):
    _, y = tiny_batch
    with pytest.raises(ValueError, match=r"inputs of shape \(6, 4, 8, 8\)"):
        zcnas.compute_proxies(small_cnn(), torch.randn(6, 4, 8, 8), y, proxies=["snip"])
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\); got \(6, 4, 8, 8\)"):
        zcnas.compute_proxies(tiny_nb201(dtype=torch.float32), torch.randn(6, 4, 8, 8), y, proxies=["snip"])
    with pytest.raises(ValueError, match="one entry per input"):
        zcnas.compute_proxies(small_cnn(), torch.randn(5, 3, 8, 8), y, proxies=["snip"])
    with pytest.raises(ValueError, match="floating-point"):
        zcnas.compute_proxies(small_cnn(), torch.ones(6, 3, 8, 8, dtype=torch.long), y)


def test_targets_out_of_range(tiny_batch):
    x, _ = tiny_batch
    with pytest.raises(ValueError, match=r"class indices in 0..9 .* got values from 0 to 12"):
        zcnas.compute_proxies(small_cnn(), x, torch.tensor([0, 1, 2, 3, 4, 12]), proxies=["snip"])


def test_options_for_a_proxy_not_asked_for(tiny_batch):
    x, y = tiny_batch
    with pytest.raises(ValueError, match="options given for 'grasp'"):
        zcnas.compute_proxies(small_cnn(), x, y, proxies=["snip"], options={"grasp": {"temperature": 2}})


def test_bad_option_value(tiny_batch):
    x, y = tiny_batch
    with pytest.raises(ValueError, match="eigen_solver='qr' is not allowed"):
        zcnas.compute_proxies(small_cnn(), x, y, ["jacob_cov"], options={"jacob_cov": {"eigen_solver": "qr"}})


# --- every registered proxy on small models -----------------------------------------------------------------

@pytest.mark.parametrize("name", zcnas.list_proxies())
@pytest.mark.parametrize("model_kind", ["cnn", "nb201"])
def test_every_registered_proxy(name, model_kind):
    net = small_cnn() if model_kind == "cnn" else tiny_nb201(dtype=torch.float32)
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(6, 3, 8, 8, generator=g), torch.randint(0, 5, (6,), generator=g)
    spec = zcnas.get_proxy(name)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    first = zcnas.compute_proxy_results(net, x, y if spec.needs_labels else None, [name], seed=0)[name]
    second = zcnas.compute_proxy_results(net, x, y if spec.needs_labels else None, [name], seed=0)[name]
    assert first.status == "ok" and math.isfinite(first.value)
    assert first.value == second.value
    assert first.seconds >= 0
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert spec.paper and spec.description


def test_registry_metadata_and_duplicates():
    assert sorted(zcnas.list_proxies(paper_only=True)) == sorted(paper_proxies())
    assert set(zcnas.list_proxies(needs_labels=False)) >= {"synflow", "jacob_cov", "params", "flops", "l2_norm"}
    assert "snip" in zcnas.list_proxies(needs_labels=True)
    assert zcnas.get_proxy("synflow").bn is False and zcnas.get_proxy("synflow").dtype == "float64"
    with pytest.raises(KeyError, match="already registered"):
        register_proxy("snip", needs_labels=True)(lambda ctx: 0.0)


@pytest.mark.parametrize("name", zcnas.list_proxies(data_free=True))
def test_a_data_free_proxy_ignores_the_minibatch(name):
    """The registry's claim: data_free proxies give the same score whatever batch they are handed."""
    net = tiny_nb201(dtype=torch.float32)
    g = torch.Generator().manual_seed(9)
    a, b = torch.randn(6, 3, 8, 8, generator=g), torch.randn(6, 3, 8, 8, generator=g) * 3 + 1
    assert zcnas.compute_proxies(net, a, None, [name], seed=0) == zcnas.compute_proxies(net, b, None, [name], seed=0)


@pytest.mark.parametrize("name", zcnas.list_proxies(needs_labels=False))
def test_a_label_free_proxy_needs_no_targets_and_ignores_them(name):
    net = tiny_nb201(dtype=torch.float32)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(6, 3, 8, 8, generator=g)
    without = zcnas.compute_proxies(net, x, None, [name], seed=0)
    with_labels = zcnas.compute_proxies(net, x, torch.randint(0, 5, (6,), generator=g), [name], seed=0)
    assert without == with_labels or all(math.isnan(v) for v in [*without.values(), *with_labels.values()])


def test_a_misspelt_shared_pass_is_an_error_at_registration():
    with pytest.raises(ValueError, match="unknown shared pass.*'loss_grd'.*known: fisher, hessian_grad"):
        register_proxy("zz_typo", needs_labels=True, passes=("loss_grd",))(lambda ctx: 0.0)
    assert "zz_typo" not in zcnas.list_proxies()
    with pytest.raises(ValueError, match="choices given for \\['mode'\\]"):
        register_proxy("zz_typo", needs_labels=False, choices={"mode": ("a",)})(lambda ctx: 0.0)


def test_the_paper_six_are_a_tag_in_the_paper_order():
    assert paper_proxies() == ("grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov")
    assert zcnas.list_proxies(tag="paper") == sorted(paper_proxies())
    assert "paper" not in zcnas.get_proxy("plain").tags


def test_a_model_with_the_wrong_output_says_what_is_wrong(tiny_batch):
    x, y = tiny_batch
    flat = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 1), nn.Flatten(0))
    with pytest.raises(ValueError, match=r"returns outputs of shape \(6,\), one number per sample"):
        zcnas.compute_proxies(flat, x, y, ["snip"])
    empty = nn.Sequential(nn.Flatten())
    with pytest.raises(ValueError, match="has no floating-point parameters, so \\['snip'\\]"):
        zcnas.compute_proxies(empty, x, y, ["snip", "params"])
    assert zcnas.compute_proxies(empty, x, None, ["params", "flops"]) == {"params": 0.0, "flops": 0.0}
