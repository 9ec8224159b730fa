"""Ground truth of the PyTorchCV zoos: each model's published top-1 accuracy, read from the installed package.

The package ships ``model_metainfos.csv`` with, per model, ``error_value``: the top-1 error (%) of its published
checkpoint on the model's test set, in hundredths of a percent (``0597`` = 5.97 %), the four digits that also
name the checkpoint file; ``NA`` where no checkpoint is published. The test sets are the datasets' standard
test splits (CIFAR-10/100 test, SVHN test) and, for ImageNet-1k, the validation set. We read it at run time
(``zcnas.spaces._pytorchcv.metainfo``), never from a copy, and turn it into one metric per zoo:

- ``<dataset>_test_top1``: 100 - error (%), higher is better; it plays both "val" and "test" for
  ``split_metric`` (the package gives one number per model);
- ``params_published``: the table's ``net_weights`` (trainable parameters), lower is better.

Only models with a published error are rows of the table; the space also lists the others (pytorchcv 0.0.74:
70 of 83 CIFAR-10 models, 68 of 82 CIFAR-100, 63 of 80 SVHN, 323 of 385 ImageNet-1k have one).

Example:
    >>> from zcnas.benchmarks import get_benchmark
    >>> table = get_benchmark("pytorchcv-cifar10")                    # doctest: +SKIP
    >>> table.accuracy("resnet20_cifar10", "cifar10_test_top1")      # doctest: +SKIP
    94.03
    >>> table.split_metric("cifar10", "val")                          # doctest: +SKIP
    'cifar10_test_top1'
"""

from __future__ import annotations

import pandas as pd

from zcnas.benchmarks.base import FrameTable, register_benchmark
from zcnas.spaces import _pytorchcv

__all__ = ["ZOO_BENCHMARKS", "load_zoo_table"]

#: Benchmark name -> (zoo in the package's table, our dataset name).
ZOO_BENCHMARKS: dict[str, tuple[str, str]] = {
    "pytorchcv-cifar10": ("cifar10", "cifar10"),
    "pytorchcv-cifar100": ("cifar100", "cifar100"),
    "pytorchcv-svhn": ("svhn", "svhn"),
    "pytorchcv-in1k": ("in1k", "imagenet"),
}


def load_zoo_table(name: str, path: None = None) -> FrameTable:
    """The ground-truth table of zoo benchmark ``name`` from the installed pytorchcv package.

    Args:
        name: one of ``ZOO_BENCHMARKS``.
        path: must be None: the table is the installed package's own file.

    Returns:
        A ``FrameTable`` indexed by model name with ``<dataset>_test_top1`` and ``params_published``.
    """
    if name not in ZOO_BENCHMARKS:
        raise ValueError(f"zoo benchmark {name!r} is not known; use one of: {', '.join(ZOO_BENCHMARKS)}")
    if path is not None:
        raise ValueError(f"the {name} table is read from the installed pytorchcv package; it takes no file "
                         f"(got {path!r})")
    zoo, dataset = ZOO_BENCHMARKS[name]
    meta = _pytorchcv.metainfo()
    buildable = set(_pytorchcv.builder_modules())
    rows = meta[(meta["zoo"] == zoo) & meta["error"].notna() & meta.index.isin(buildable)]
    metric = f"{dataset}_test_top1"
    frame = pd.DataFrame(
        {metric: 100.0 - rows["error"], "params_published": rows["net_weights"].astype("float64")},
        index=rows.index,
    )
    frame.index.name = "model"
    return FrameTable(
        frame,
        space=name,
        directions={"params_published": "min"},
        splits={(dataset, "val"): metric, (dataset, "test"): metric},
    )


def _loader(name: str):
    def load(path: None = None) -> FrameTable:
        return load_zoo_table(name, path)

    return load


for _name, (_zoo, _dataset) in ZOO_BENCHMARKS.items():
    register_benchmark(
        _name,
        space=_name,
        loader=_loader(_name),
        description=f"PyTorchCV's published top-1 accuracy of its {_dataset} models (read from the package)",
    )
