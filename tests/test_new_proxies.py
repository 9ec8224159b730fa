"""NASWOT, ZiCo, MeCo, SWAP, Zen-NAS and AZ-NAS's components against hand computations and invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import small_cnn
from torch import nn

import zcnas
from zcnas.proxies.aznas import entropy_of_feature, stage_trainability, trunk_of
from zcnas.proxies.recorders import MinEigen, ReluCodes, count_distinct_rows, pack_patterns
from zcnas.proxies.swap import gaussian_init_, size_regulariser
from zcnas.proxies.zen import _zen_once
from zcnas.proxies.zico import zico_from_gradients
from zcnas.spaces import nb201

NEW = ["naswot", "zico", "meco", "meco_opt", "swap", "reg_swap", "zen",
       "aznas_expressivity", "aznas_progressivity", "aznas_trainability"]


def tiny_nb201(ops=(3, 2, 4, 1, 3, 0), seed=0):
    return nb201.build_model(nb201.arch_from_ops(ops), num_classes=5, channels=4, cells_per_stage=1, seed=seed)


def batch(n=6, seed=4, size=8):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g), torch.randint(0, 5, (n,), generator=g)


def relu_input_codes(net: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Brute force: the 0/1 code of every ReLU input, per sample, by hooks written here."""
    codes: list[torch.Tensor] = []
    hooks = [m.register_forward_pre_hook(lambda m, a: codes.append((a[0] > 0).reshape(a[0].shape[0], -1).double()))
             for m in net.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        net.train()(x)
    for h in hooks:
        h.remove()
    return codes


# --- NASWOT -------------------------------------------------------------------------------------------------

def test_naswot_kernel_is_units_minus_hamming_and_the_score_its_logdet():
    net, (x, _) = small_cnn(), batch()
    codes = relu_input_codes(net, x)
    units = sum(c.shape[1] for c in codes)
    hamming = sum((c[:, None, :] != c[None, :, :]).sum(-1) for c in codes).double()
    want_kernel = units - hamming
    recorder = ReluCodes(kernel=True)
    with recorder.attached(net), torch.no_grad():
        net(x)
    assert torch.equal(recorder.kernel, want_kernel)
    assert torch.equal(recorder.kernel, recorder.kernel.T)
    assert torch.all(torch.diagonal(recorder.kernel) == units) and recorder.units == units
    got = zcnas.compute_proxies(net, x, None, ["naswot"])["naswot"]
    assert got == pytest.approx(float(torch.linalg.slogdet(want_kernel)[1]), rel=1e-12)


def test_naswot_shares_the_paper_forward_and_equals_its_own():
    net, (x, y) = tiny_nb201(), batch()
    alone = zcnas.compute_proxies(net, x, y, ["naswot"])["naswot"]
    shared = zcnas.compute_proxies(net, x, y, ["naswot", "grad_norm", "jacob_cov", "fisher"])
    assert shared["naswot"] == alone
    assert shared["grad_norm"] == zcnas.compute_proxies(net, x, y, ["grad_norm"])["grad_norm"]


# --- SWAP ---------------------------------------------------------------------------------------------------

def test_pack_patterns_counts_like_unique_rows_beyond_one_word():
    g = torch.Generator().manual_seed(0)
    codes = (torch.rand(70, 300, generator=g) > 0.5)
    codes[:, 1] = codes[:, 0]           # two duplicated columns
    codes[:, 5] = codes[:, 7]
    packed = pack_patterns(codes)
    assert packed.shape == (300, 2)
    assert count_distinct_rows(packed) == torch.unique(codes.T.int(), dim=0).shape[0] == 298


def test_swap_equals_brute_force_count_and_respects_its_bounds():
    net, (x, _) = small_cnn(), batch(n=5)
    options = {"swap": {"init": "model", "samples": 0, "repeats": 1}}
    got = zcnas.compute_proxies(net, x, None, ["swap"], options=options)["swap"]
    outputs = []
    hooks = [m.register_forward_hook(lambda m, a, o: outputs.append(o.reshape(o.shape[0], -1)))
             for m in net.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        net.train()(x)
    for h in hooks:
        h.remove()
    activations = torch.sign(torch.cat(outputs, 1))          # the code's (samples, units) matrix
    want = torch.unique(activations.T, dim=0).shape[0]
    assert got == want
    assert got <= activations.shape[1] and got <= 2 ** x.shape[0]


def test_swap_default_is_the_mean_over_gaussian_reinits_and_reg_swap_scales_it():
    net, (x, _) = tiny_nb201(), batch(n=20)
    scores = zcnas.compute_proxies(net, x, None, ["swap", "reg_swap"], seed=1)
    one = zcnas.compute_proxies(net, x, None, ["swap"], seed=1, options={"swap": {"repeats": 1}})["swap"]
    assert scores["swap"] != one and float(scores["swap"] * 32).is_integer()
    params = sum(p.numel() for p in net.parameters())
    assert scores["reg_swap"] == pytest.approx(scores["swap"] * size_regulariser(params, 1600.0, 1.6e6))
    assert size_regulariser(1_600_000, 1600.0, 1.6e6) == 1.0
    assert size_regulariser(0, 1600.0, 1.6e6) == pytest.approx(math.exp(-1.6))


def test_swap_reads_at_most_sixteen_samples_by_default():
    net, (x, _) = tiny_nb201(), batch(n=20)
    a = zcnas.compute_proxies(net, x, None, ["swap"], seed=0)["swap"]
    x2 = x.clone()
    x2[16:] = torch.randn_like(x2[16:])
    assert zcnas.compute_proxies(net, x2, None, ["swap"], seed=0)["swap"] == a
    assert a <= 2 ** 16


# --- MeCo ---------------------------------------------------------------------------------------------------

def test_meco_identical_channels_take_the_degenerate_value_zero():
    conv = nn.Conv2d(1, 3, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, 2.0, 0.5]).reshape(3, 1, 1, 1))   # channels proportional
    recorder = MinEigen()
    with recorder.attached(conv), torch.no_grad():
        conv(torch.randn(2, 1, 4, 4, generator=torch.Generator().manual_seed(0)))
    assert recorder.values == [pytest.approx(0.0, abs=1e-5)]


def test_meco_of_two_channels_is_one_minus_their_correlation_per_module():
    g = torch.Generator().manual_seed(5)
    a = torch.randn(16, generator=g)
    b = 0.6 * a + 0.8 * torch.randn(16, generator=g)
    x = torch.stack([a, b]).reshape(1, 2, 4, 4).repeat(2, 1, 1, 1)
    r = float(torch.corrcoef(torch.stack([a, b]))[0, 1])
    net = nn.Sequential(nn.Identity(), nn.Conv2d(2, 2, 1))   # Identity and the root see different outputs
    with torch.no_grad():
        net[1].weight.copy_(torch.eye(2).reshape(2, 2, 1, 1))
        net[1].bias.zero_()
    got = zcnas.compute_proxies(net, x, None, ["meco"])["meco"]
    assert got == pytest.approx(3 * (1 - abs(r)), rel=1e-4)   # Identity, Conv and the root: the same map
    opt = zcnas.compute_proxies(net, x, None, ["meco_opt"], options={"meco_opt": {"channels": 8}})["meco_opt"]
    assert opt == pytest.approx(got, rel=1e-6)   # at most 8 channels: every channel, scale 1


def test_meco_reads_only_the_first_sample():
    net, (x, _) = small_cnn(), batch()
    x2 = x.clone()
    x2[1:] = -x2[1:]
    assert zcnas.compute_proxies(net, x, None, ["meco"]) == zcnas.compute_proxies(net, x2, None, ["meco"])


# --- ZiCo ---------------------------------------------------------------------------------------------------

def linear_gradients(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Closed form dL/dW of mean cross-entropy for a Linear layer."""
    z = x @ w.T + b
    p = torch.softmax(z, 1)
    p[torch.arange(len(y)), y] -= 1
    return (p.T @ x / len(y)).reshape(-1).double().numpy()


def test_zico_on_a_linear_layer_matches_the_closed_form():
    g = torch.Generator().manual_seed(3)
    net = nn.Linear(5, 4)
    x, y = torch.randn(8, 5, generator=g), torch.randint(0, 4, (8,), generator=g)
    grads = np.stack([linear_gradients(net.weight.detach(), net.bias.detach(), x[:4], y[:4]),
                      linear_gradients(net.weight.detach(), net.bias.detach(), x[4:], y[4:])])
    want = math.log(np.sum(np.abs(grads).mean(0) / grads.std(0)))
    assert zcnas.compute_proxies(net, x, y, ["zico"])["zico"] == pytest.approx(want, rel=1e-5)
    acc = np.stack([grads[0], grads[0] + grads[1]])
    accumulated = zcnas.compute_proxies(net, x, y, ["zico"], options={"zico": {"accumulate": True}})["zico"]
    assert accumulated == pytest.approx(math.log(np.sum(np.abs(acc).mean(0) / acc.std(0))), rel=1e-5)


def test_zico_does_not_depend_on_the_order_of_the_batch():
    net, (x, y) = tiny_nb201(), batch(n=8)
    base = zcnas.compute_proxies(net, x, y, ["zico"])["zico"]
    within = torch.tensor([2, 0, 3, 1, 7, 5, 4, 6])      # permuted inside each half
    swapped = torch.tensor([4, 5, 6, 7, 0, 1, 2, 3])     # the two minibatches exchanged
    for order in (within, swapped):
        assert zcnas.compute_proxies(net, x[order], y[order], ["zico"])["zico"] == pytest.approx(base, rel=1e-5)


def test_zico_skips_constant_layers_and_is_nan_when_none_counts():
    assert zico_from_gradients([np.array([[1.0, 2.0], [3.0, 2.0]]), np.ones((2, 3))]) == pytest.approx(math.log(2))
    r = zcnas.compute_proxy_results(tiny_nb201((0,) * 6), *batch(), proxies=["zico"])["zico"]
    assert r.status == "nan" and "no layer" in r.reason
    with pytest.raises(ValueError, match="splits=1 is not allowed"):
        zcnas.compute_proxies(small_cnn(), *batch(), ["zico"], options={"zico": {"splits": 1}})


# --- Zen-NAS ------------------------------------------------------------------------------------------------

def test_zen_on_a_linear_map_is_the_log_of_the_perturbation_norm():
    net = nn.Sequential(nn.Conv2d(3, 2, 1, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    shape = (4, 3, 5, 5)
    value = _zen_once(net, shape, torch.float32, torch.device("cpu"), 0.01, torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(7)                 # replay the same draws: weights, x, noise
    w = gaussian_init_(nn.Conv2d(3, 2, 1, bias=False), g).weight.detach()
    torch.randn(shape, generator=g)
    noise = torch.randn(shape, generator=g)
    diff = torch.nn.functional.conv2d(0.01 * noise, w).abs().sum((1, 2, 3)).mean()
    assert value == pytest.approx(math.log(float(diff)), rel=1e-4)


def test_zen_ignores_the_callers_weights_and_the_batch_values():
    x, _ = batch()
    a = zcnas.compute_proxies(tiny_nb201(seed=0), x, None, ["zen"], seed=3)["zen"]
    b = zcnas.compute_proxies(tiny_nb201(seed=1), x * 5, None, ["zen"], seed=3)["zen"]
    c = zcnas.compute_proxies(tiny_nb201(seed=0), x, None, ["zen"], seed=4)["zen"]
    assert a == b and a != c


def test_zen_needs_a_global_pool():
    net = nn.Sequential(nn.Conv2d(3, 2, 1), nn.Flatten(), nn.Linear(128, 2))
    with pytest.raises(ValueError, match="calls no nn.AdaptiveAvgPool2d"):
        zcnas.compute_proxies(net, *batch(), ["zen"])


# --- AZ-NAS -------------------------------------------------------------------------------------------------

def test_aznas_features_are_the_stem_output_and_every_cell_output():
    net = tiny_nb201()
    assert trunk_of(net) is net.cells and len(net.cells) == 5
    from zcnas.proxies.aznas import az_components
    from zcnas.proxies.passes import ProxyContext, default_loss
    x, _ = batch()
    ctx = ProxyContext(net, x, None, default_loss, frozenset())
    parts = az_components(ctx)
    assert len(parts.entropies) == 6 and len(parts.trainabilities) == 5
    got = zcnas.compute_proxies(net, x, None, ["aznas_expressivity", "aznas_progressivity", "aznas_trainability"],
                                seed=0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        parts = az_components(ProxyContext(net, x, None, default_loss, frozenset()))
    e = np.array(parts.entropies)
    assert got["aznas_expressivity"] == pytest.approx(e.sum())
    assert got["aznas_progressivity"] == pytest.approx(np.min(e[1:] - e[:-1]))
    assert got["aznas_trainability"] == pytest.approx(np.mean(parts.trainabilities))


def test_aznas_entropy_of_isotropic_channels_is_log_c():
    g = torch.Generator().manual_seed(0)
    feat = torch.randn(64, 4, 16, 16, generator=g)
    assert entropy_of_feature(feat) == pytest.approx(math.log(4), abs=1e-3)


def test_aznas_trainability_of_a_scaled_identity_stage():
    g = torch.Generator().manual_seed(0)
    f_in = torch.randn(2, 3, 4, 4, generator=g, requires_grad=True)
    f_out = 2.0 * f_in
    value = stage_trainability(f_in, f_out, torch.Generator().manual_seed(1))
    g_out = (torch.bernoulli(torch.full_like(f_out, 0.5), generator=torch.Generator().manual_seed(1)) - 0.5) * 2
    flat = g_out.permute(0, 2, 3, 1).reshape(-1, 3)
    top = float(torch.linalg.svdvals(2.0 * flat.T @ flat / flat.shape[0]).max())
    assert value == pytest.approx(-top - 1 / (top + 1e-6) + 2, rel=1e-6)
    assert stage_trainability(f_in, f_in * 1.0, torch.Generator().manual_seed(1)) == -math.inf


def test_aznas_identity_cell_is_nan_as_the_code_scores_it_minus_inf():
    r = zcnas.compute_proxy_results(tiny_nb201((0, 0, 0, 1, 0, 0)), *batch(), proxies=["aznas_trainability"])
    assert r["aznas_trainability"].status == "nan" and "-inf" in r["aznas_trainability"].reason


# --- degenerate models: NaN with a reason, never a crash ----------------------------------------------------

class Zero(nn.Module):
    def forward(self, x):
        return x * 0.0


def constant_model() -> nn.Sequential:
    """Outputs that do not depend on the input: the input is multiplied by 0 first."""
    return nn.Sequential(Zero(), nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, 5))


@pytest.mark.parametrize("model", ["all_none_cell", "constant"])
@pytest.mark.parametrize("name", NEW)
def test_degenerate_models_give_a_value_or_nan_with_a_reason(model, name):
    net = tiny_nb201((0,) * 6) if model == "all_none_cell" else constant_model()
    x, y = batch()
    r = zcnas.compute_proxy_results(net, x, y, [name], seed=0)[name]
    assert r.status in ("ok", "nan")
    if r.status == "nan":
        assert math.isnan(r.value) and r.reason
    else:
        assert math.isfinite(r.value)


def test_all_none_cell_values():
    x, y = batch()
    r = zcnas.compute_proxy_results(tiny_nb201((0,) * 6), x, y, NEW, seed=0)
    for name in ("naswot", "zico", "zen", "aznas_expressivity", "aznas_progressivity"):
        assert r[name].status == "nan", name
    assert r["swap"].value == 1.0          # one pattern: the smallest count a model with a ReLU can have
