"""Model zoos as search spaces: a cell is a model name, the network is the zoo's own builder.

A zoo space lists published, hand-designed networks rather than generating cells: ``cells()`` gives every
model of the zoo, ``sample`` draws names, and ``build_model`` builds the named network with random weights
(never a download). There are no neighbours: two models of a zoo are not one edit apart.

Four PyTorchCV zoos are registered (the optional ``pytorchcv`` package, ``pip install 'zcnas[zoo]'``); their
ground truth is the package's own table of published top-1 errors (``zcnas.benchmarks.zoo``):

=====================  ==========  =================  ===========
space                  dataset     input              models
=====================  ==========  =================  ===========
``pytorchcv-cifar10``  cifar10     3 x 32 x 32        83
``pytorchcv-cifar100`` cifar100    3 x 32 x 32        82
``pytorchcv-svhn``     svhn        3 x 32 x 32        80
``pytorchcv-in1k``     imagenet    3 x 224 x 224      385
=====================  ==========  =================  ===========

(the counts are pytorchcv 0.0.74's). The spaces register without the package; listing or building their
models without it raises an ImportError that says what to install.

Every ImageNet model is scored at 224 x 224, the input the data folder's ImageNet images have; the package's
table names a larger evaluation size for a few (299 for Inception-v3, up to 672); a model that cannot run at
224 gets an error row saying so.

Example:
    >>> from zcnas.spaces import get_space
    >>> space = get_space("pytorchcv-cifar10")
    >>> space.input_shape, space.datasets, space.benchmark
    ((3, 32, 32), {'cifar10': 10}, 'pytorchcv-cifar10')
    >>> space.encode("resnet20_cifar10")                             # doctest: +SKIP
    'resnet20_cifar10'
    >>> net = space.build_model("resnet20_cifar10", num_classes=10, seed=0)  # doctest: +SKIP
    >>> sum(p.numel() for p in net.parameters())                     # doctest: +SKIP
    272474
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
from torch import nn

from zcnas.layer_marks import set_memory_budget
from zcnas.spaces import _pytorchcv
from zcnas.spaces.base import ModelOption, SearchSpace, register_space

__all__ = ["DEFAULT_MEMORY_BUDGET_GB", "PyTorchCVZoo", "ZooSpace"]

#: Default of the ``memory_budget_gb`` option: the estimated peak of one scoring call must stay below it.
DEFAULT_MEMORY_BUDGET_GB = 8.0


class ZooSpace(SearchSpace):
    """A space whose cells are the model names of a fixed zoo (subclass it and fill ``models``/``make``)."""

    def models(self) -> list[str]:
        """The zoo's model names, in the zoo's order."""
        raise NotImplementedError

    def make(self, name: str, num_classes: int, seed: int | None) -> nn.Module:
        """Build model ``name`` (already checked) with ``num_classes`` outputs and init seed ``seed``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ protocol
    def encode(self, cell: Any) -> str:
        if not isinstance(cell, str):
            raise ValueError(f"a cell of space {self.name!r} is a model name (str), not {type(cell).__name__}")
        if cell not in self._names():
            close = [m for m in self.models() if m.split("_")[0] == cell.split("_")[0]][:5]
            hint = f"; similar: {', '.join(close)}" if close else "; list them with space.cells()"
            raise ValueError(f"{cell!r} is not a model of space {self.name!r}{hint}")
        return cell

    def decode(self, text: str) -> str:
        return self.encode(text)

    def parse(self, text: str) -> str:
        return self.encode(text.strip())

    @property
    def size(self) -> int:
        return len(self.models())

    def cells(self) -> Iterator[str]:
        return iter(self.models())

    def sample(self, n: int, rng: np.random.Generator, replace: bool = False) -> list[str]:
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator, e.g. numpy.random.default_rng(seed)")
        names = self.models()
        if n < 0 or (not replace and n > len(names)):
            raise ValueError(f"cannot sample {n} models of space {self.name!r}; allowed: 0..{len(names)} "
                             "without replacement")
        return [names[int(i)] for i in rng.choice(len(names), size=n, replace=replace)]

    def neighbours(self, cell: Any) -> list[str]:
        raise NotImplementedError(f"space {self.name!r} is a fixed list of models; it has no neighbours")

    def build_model(self, cell: Any, num_classes: int, *, seed: int | None = None, **options: Any) -> nn.Module:
        """The zoo network ``cell`` with random weights seeded by ``seed``, marked with the memory budget."""
        name = self.encode(cell)
        values = self.check_options(options)
        net = self.make(name, num_classes, seed)
        budget = values.get("memory_budget_gb", 0.0)
        return set_memory_budget(net, budget * 2**30) if budget else net

    def _names(self) -> frozenset[str]:
        if "_name_set" not in self.__dict__:
            self.__dict__["_name_set"] = frozenset(self.models())
        return self.__dict__["_name_set"]


class PyTorchCVZoo(ZooSpace):
    """The models of one PyTorchCV zoo (``zoo``: cifar10, cifar100, svhn or in1k), built with ``pretrained=False``.

    ``num_classes`` must be the zoo's own (the CIFAR builders accept only 10 or 100); the init seed seeds the
    builder's own initialisation, without touching the global generator.
    """

    zoo: ClassVar[str] = ""
    model_options = (
        ModelOption("memory_budget_gb", float, DEFAULT_MEMORY_BUDGET_GB,
                    "skip a model whose estimated peak memory for the asked proxies exceeds this (GiB; 0: no limit)",
                    minimum=0.0),
    )

    def models(self) -> list[str]:
        if "_models" not in self.__dict__:
            self.__dict__["_models"] = tuple(_pytorchcv.zoo_models(self.zoo))
        return list(self.__dict__["_models"])

    def make(self, name: str, num_classes: int, seed: int | None) -> nn.Module:
        own = next(iter(self.datasets.values()))
        if num_classes != own:
            raise ValueError(f"num_classes={num_classes} is not allowed for {name!r}; the {self.zoo} zoo's models "
                             f"have {own} outputs")
        return _pytorchcv.build(name, seed=seed, num_classes=num_classes)


@register_space
class PyTorchCVCifar10(PyTorchCVZoo):
    """PyTorchCV's CIFAR-10 models (names ending in ``_cifar10``)."""

    name = "pytorchcv-cifar10"
    description = "PyTorchCV zoo: published CIFAR-10 networks (ResNets, DenseNets, WRNs, PyramidNets, ...)"
    input_shape = (3, 32, 32)
    datasets = {"cifar10": 10}
    benchmark = "pytorchcv-cifar10"
    zoo = "cifar10"


@register_space
class PyTorchCVCifar100(PyTorchCVZoo):
    """PyTorchCV's CIFAR-100 models (names ending in ``_cifar100``)."""

    name = "pytorchcv-cifar100"
    description = "PyTorchCV zoo: published CIFAR-100 networks"
    input_shape = (3, 32, 32)
    datasets = {"cifar100": 100}
    benchmark = "pytorchcv-cifar100"
    zoo = "cifar100"


@register_space
class PyTorchCVSvhn(PyTorchCVZoo):
    """PyTorchCV's SVHN models (names ending in ``_svhn``)."""

    name = "pytorchcv-svhn"
    description = "PyTorchCV zoo: published SVHN networks"
    input_shape = (3, 32, 32)
    datasets = {"svhn": 10}
    benchmark = "pytorchcv-svhn"
    zoo = "svhn"


@register_space
class PyTorchCVImageNet(PyTorchCVZoo):
    """PyTorchCV's ImageNet-1k models (test_dataset ``in1k``), scored at 224 x 224."""

    name = "pytorchcv-in1k"
    description = "PyTorchCV zoo: published ImageNet-1k networks, at 224 x 224"
    input_shape = (3, 224, 224)
    datasets = {"imagenet": 1000}
    benchmark = "pytorchcv-in1k"
    zoo = "in1k"
