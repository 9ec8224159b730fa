"""grasp's opt-in finite-difference Hessian product against the exact one: by hand, closed forms, rank agreement."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import small_cnn
from scipy.stats import spearmanr
from test_proxies import closed_forms
from torch import nn

import zcnas
from zcnas.spaces import nb201

FD = ("central_difference", "forward_difference")


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: on a shared 2-core machine two spinning threads can make a small backward 100x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _grasp(net, x, y, hessian="exact", **kw):
    opts = {"grasp": {"hessian": hessian}} if hessian != "exact" else {}
    return zcnas.compute_proxies(net, x, y, ["grasp"], options=opts, seed=0, **kw)["grasp"]


@pytest.mark.parametrize("hessian", ["exact", *FD])
def test_quadratic_by_hand(hessian):
    # L = ½·mean_n (w·x_n)², x = (1, 0), (0, 2), w = (1, 1): g = (0.5, 2), H = diag(0.5, 2), Hg = (0.25, 4),
    # grasp = −w·Hg = −4.25. The loss is quadratic, so both differences are exact up to rounding.
    net = nn.Linear(2, 1, bias=False).double()
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, 1.0]]))
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    loss = lambda out, t: 0.5 * out.pow(2).mean()  # noqa: E731
    assert _grasp(net, x, torch.zeros(2), hessian, loss_fn=loss) == pytest.approx(-4.25, rel=1e-9)


@pytest.fixture
def linear_case():
    g = torch.Generator().manual_seed(3)
    net = nn.Linear(5, 4).double()
    with torch.no_grad():
        net.weight.copy_(torch.randn(4, 5, generator=g, dtype=torch.float64))
        net.bias.copy_(torch.randn(4, generator=g, dtype=torch.float64))
    return net, torch.randn(7, 5, generator=g, dtype=torch.float64), torch.randint(0, 4, (7,), generator=g)


def test_cross_entropy_closed_form(linear_case):
    net, x, y = linear_case
    want = closed_forms(net, x, y)["grasp"]
    assert _grasp(net, x, y, "central_difference") == pytest.approx(want, rel=1e-7)
    assert _grasp(net, x, y, "forward_difference") == pytest.approx(want, rel=1e-3)
    assert _grasp(net, x, y, "forward_difference") != _grasp(net, x, y, "central_difference")


def test_relu_network_matches_exact_float64():
    # The frozen ReLU pattern makes the difference converge to the exact product (which takes ReLU'' = 0).
    net = small_cnn().double()
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(16, 3, 8, 8, generator=g, dtype=torch.float64), torch.randint(0, 10, (16,), generator=g)
    exact = _grasp(net, x, y)
    assert _grasp(net, x, y, "central_difference") == pytest.approx(exact, rel=1e-6)


def test_dropout_masks_are_replayed():
    net = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3)).double()
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(10, 6, generator=g, dtype=torch.float64), torch.randint(0, 3, (10,), generator=g)
    assert _grasp(net, x, y, "central_difference") == pytest.approx(_grasp(net, x, y), rel=1e-6)


def test_default_is_exact_and_other_proxies_agree(linear_case):
    net, x, y = linear_case
    names = ["grad_norm", "snip", "grasp", "fisher", "jacob_cov"]
    default = zcnas.compute_proxies(net, x, y, names)
    assert default == zcnas.compute_proxies(net, x, y, names, options={"grasp": {"hessian": "exact"}})
    fd = zcnas.compute_proxies(net, x, y, names, options={"grasp": {"hessian": "central_difference"}})
    for name in names:
        assert fd[name] == pytest.approx(default[name], rel=1e-7), name


def test_caller_model_untouched(linear_case):
    net, x, y = linear_case
    before = {k: v.clone() for k, v in net.state_dict().items()}
    _grasp(net, x, y, "central_difference")
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


@pytest.mark.parametrize("options, message", [
    ({"hessian": "fd"}, "hessian='fd'"),
    ({"fd_eta": 0.0}, "fd_eta=0.0"),
    ({"fd_eta": 2.0}, "fd_eta=2.0"),
])
def test_bad_options(linear_case, options, message):
    net, x, y = linear_case
    with pytest.raises(ValueError, match=message):
        zcnas.compute_proxies(net, x, y, ["grasp"], options={"grasp": options})


def _rank_agreement(n_cells: int, **build) -> dict[str, float]:
    from zcnas.data import minibatch

    exact, fd = [], {h: [] for h in FD}
    for i, arch in enumerate(nb201.sample(n_cells, np.random.default_rng(11))):
        net = nb201.build_model(arch, seed=i, **build)
        x, y = minibatch("synthetic" if build else "cifar10", batch_size=16 if build else 64, seed=i,
                         **({"image_size": 16} if build else {}))
        exact.append(_grasp(net, x, y))
        for h in FD:
            fd[h].append(_grasp(net, x, y, h))
    rho = {h: float(spearmanr(exact, v).statistic) for h, v in fd.items()}
    print(f"Spearman of finite-difference grasp against exact grasp over {n_cells} NB-201 cells: {rho}")
    return rho


def test_rank_agreement_small_nb201_cells():
    rho = _rank_agreement(24, channels=8, cells_per_stage=1)
    assert rho["central_difference"] >= 0.99, rho
    assert rho["forward_difference"] >= 0.95, rho


@pytest.mark.slow
def test_rank_agreement_50_nb201_cells():
    rho = _rank_agreement(50)
    assert rho["central_difference"] >= 0.99, rho
    assert rho["forward_difference"] >= 0.95, rho
