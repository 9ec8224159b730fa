"""The PyTorchCV zoo as spaces: the package's table read in place, builders without model_provider, the oracle
of published parameter counts, the SVHN and ImageNet minibatch sources."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from zcnas.benchmarks import get_benchmark
from zcnas.data import minibatch
from zcnas.data.zoo_data import IMAGENET_MEAN, IMAGENET_STD, load_zoo_images, zoo_minibatch
from zcnas.spaces import _pytorchcv, get_space

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
ZOOS = {"pytorchcv-cifar10": 83, "pytorchcv-cifar100": 82, "pytorchcv-svhn": 80, "pytorchcv-in1k": 385}
WITH_ERROR = {"pytorchcv-cifar10": 70, "pytorchcv-cifar100": 68, "pytorchcv-svhn": 63, "pytorchcv-in1k": 323}


def trainable(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


# --- without the package ------------------------------------------------------------------------------------

def test_spaces_register_without_the_package_and_say_what_to_install(monkeypatch):
    space = get_space("pytorchcv-cifar10")
    assert space.input_shape == (3, 32, 32) and space.datasets == {"cifar10": 10}
    assert get_space("pytorchcv-in1k").input_shape == (3, 224, 224)
    monkeypatch.setattr(_pytorchcv.importlib.util, "find_spec", lambda name: None)
    assert not _pytorchcv.available()
    with pytest.raises(ImportError, match=r"pip install 'zcnas\[zoo\]'"):
        _pytorchcv.metainfo_path()


# --- the package's table ------------------------------------------------------------------------------------

def test_table_counts_and_known_rows_from_the_installed_file():
    pytest.importorskip("pytorchcv")
    meta = _pytorchcv.metainfo()
    assert meta.loc["resnet20_cifar10", "net_weights"] == 272474
    assert meta.loc["resnet20_cifar10", "error"] == pytest.approx(5.97)
    for name, count in ZOOS.items():
        assert get_space(name).size == count, name
        assert len(get_benchmark(name)) == WITH_ERROR[name], name
    c10 = get_benchmark("pytorchcv-cifar10")
    assert c10.accuracy("resnet20_cifar10", "cifar10_test_top1") == pytest.approx(100 - 5.97)
    assert c10.split_metric("cifar10", "val") == c10.split_metric("cifar10", "test") == "cifar10_test_top1"
    assert c10.direction("params_published") == "min"
    assert "resnet1001_cifar10" in set(get_space("pytorchcv-cifar10").cells())
    assert "seresnet1001_cifar10" not in c10  # listed, but no published checkpoint (error NA)
    assert math.isnan(meta.loc["seresnet1001_cifar10", "error"])
    in1k = get_benchmark("pytorchcv-in1k")
    assert in1k.accuracy("resnet18", "imagenet_test_top1") == pytest.approx(100 - meta.loc["resnet18", "error"])
    # every zoo model name carries its zoo's suffix (the CIFAR/SVHN zoos share the file's code "cf")
    assert all(n.endswith("_cifar100") for n in get_space("pytorchcv-cifar100").cells())
    assert all(n.endswith("_svhn") for n in get_space("pytorchcv-svhn").cells())


def test_error_field_parsing():
    assert _pytorchcv._error_percent("0597") == 5.97
    assert math.isnan(_pytorchcv._error_percent("NA"))
    with pytest.raises(ValueError, match="four digits"):
        _pytorchcv._error_percent("5.97")


# --- builders -----------------------------------------------------------------------------------------------

def test_builder_imports_neither_model_provider_nor_torchvision():
    pytest.importorskip("pytorchcv")
    code = (
        "import sys; from zcnas.spaces import get_space\n"
        "net = get_space('pytorchcv-cifar10').build_model('sepreresnet20_cifar10', 10, seed=0)\n"
        "print(sum(p.numel() for p in net.parameters()),"
        " 'pytorchcv.model_provider' in sys.modules, 'torchvision' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["274559", "False", "False"]


def test_build_is_seeded_and_leaves_the_global_generator_alone():
    pytest.importorskip("pytorchcv")
    space = get_space("pytorchcv-cifar10")
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = space.build_model("resnet20_cifar10", 10, seed=5)
    b = space.build_model("resnet20_cifar10", 10, seed=5)
    c = space.build_model("resnet20_cifar10", 10, seed=6)
    assert torch.equal(torch.random.get_rng_state(), before)
    wa, wb, wc = (next(n.parameters()).detach() for n in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    assert a.training


def test_space_protocol_and_bad_input():
    pytest.importorskip("pytorchcv")
    space = get_space("pytorchcv-svhn")
    assert space.sample(3, np.random.default_rng(1)) == space.sample(3, np.random.default_rng(1))
    assert len(set(space.sample(space.size, np.random.default_rng(0)))) == space.size
    with pytest.raises(ValueError, match="not a model of space 'pytorchcv-svhn'; similar: resnet20_svhn"):
        space.encode("resnet20_cifar10")
    with pytest.raises(ValueError, match="num_classes=100 is not allowed"):
        space.build_model("resnet20_svhn", 100)
    with pytest.raises(NotImplementedError, match="no neighbours"):
        space.neighbours("resnet20_svhn")
    with pytest.raises(ValueError, match="memory_budget_gb=-1"):
        space.build_model("resnet20_svhn", 10, memory_budget_gb=-1.0)


def test_published_parameter_counts_for_the_small_cifar10_models():
    """The oracle on every CIFAR-10 model below 5M parameters (49 of 83): we build what was published."""
    pytest.importorskip("pytorchcv")
    meta = _pytorchcv.metainfo()
    space = get_space("pytorchcv-cifar10")
    small = [n for n in space.cells() if meta.loc[n, "net_weights"] < 5_000_000]
    assert len(small) == 49
    for name in small:
        assert trainable(space.build_model(name, 10, seed=0)) == meta.loc[name, "net_weights"], name


@pytest.mark.slow
@pytest.mark.parametrize("zoo", list(ZOOS))
def test_published_parameter_counts_for_every_zoo_model(zoo):
    pytest.importorskip("pytorchcv")
    meta = _pytorchcv.metainfo()
    space = get_space(zoo)
    classes = next(iter(space.datasets.values()))
    wrong = {}
    for name in space.cells():
        count = trainable(space.build_model(name, classes, seed=0))
        if count != meta.loc[name, "net_weights"]:
            wrong[name] = (count, int(meta.loc[name, "net_weights"]))
    assert not wrong


# --- minibatches --------------------------------------------------------------------------------------------

def test_svhn_and_imagenet_batches_from_the_data_folder():
    x, y = load_zoo_images("imagenet")
    assert x.shape == (256, 224, 224, 3) and len(np.unique(y)) == 256 and int(y.max()) <= 999
    xs, ys = load_zoo_images("svhn")
    assert xs.shape == (1204, 32, 32, 3) and set(np.unique(ys)) == set(range(10))

    inputs, targets = minibatch("imagenet", batch_size=3, seed=4, image_size=224)
    idx = np.random.default_rng(4).choice(256, size=3, replace=False)
    assert targets.tolist() == y[idx].tolist()
    pixel = x[idx[0], 10, 20] / 255.0
    expected = (pixel - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    assert inputs[0, :, 10, 20].numpy() == pytest.approx(expected, abs=1e-6)

    a, _ = minibatch("svhn", batch_size=8, seed=1)
    b, _ = zoo_minibatch("svhn", batch_size=8, seed=1)
    assert a.shape == (8, 3, 32, 32) and torch.equal(a, b)
    c, _ = minibatch("svhn", batch_size=8, seed=1, augment=True)
    assert not torch.equal(a, c)
    with pytest.raises(ValueError, match="one pool of images"):
        minibatch("svhn", batch_size=2, split="test")
    with pytest.raises(ValueError, match="larger than source 'imagenet'"):
        minibatch("imagenet", batch_size=257)
    with pytest.raises(ValueError, match="num_classes=10 does not match source 'imagenet'"):
        minibatch("imagenet", batch_size=2, num_classes=10)
