"""zcnas.data: minibatch sources, the reference's normalisation and augmentation, data paths.

Example:
    >>> from zcnas.data import minibatch
    >>> x, y = minibatch("synthetic", batch_size=2, seed=0)
    >>> tuple(x.shape)
    (2, 3, 32, 32)
"""

from __future__ import annotations

from zcnas.data.batches import DEFAULT_SOURCES, SOURCES, fixed_batch_seed, minibatch
from zcnas.data.cifar import (
    CIFAR10_SUBSET_FILES,
    CIFAR100_SUBSET_FILES,
    detect_cifar_folder,
    load_cifar10_subset,
    load_cifar100_subset,
    load_cifar_batches_py,
)
from zcnas.data.paths import ENV_VAR, data_dir, data_file
from zcnas.data.safe_pickle import (
    CONTAINER_GLOBALS,
    NUMPY_ARRAY_GLOBALS,
    NUMPY_SCALAR_GLOBALS,
    RestrictedUnpickler,
    UnsafePickleError,
    restricted_load,
    restricted_loads,
)
from zcnas.data.transforms import (
    CIFAR_MEAN,
    CIFAR_STD,
    IMAGENET16_MEAN,
    IMAGENET16_STD,
    augment_uint8,
    normalize,
    random_crop,
    random_hflip,
    resize,
    to_tensor,
)

__all__ = [
    "CIFAR10_SUBSET_FILES",
    "CIFAR100_SUBSET_FILES",
    "DEFAULT_SOURCES",
    "CIFAR_MEAN",
    "CIFAR_STD",
    "CONTAINER_GLOBALS",
    "ENV_VAR",
    "IMAGENET16_MEAN",
    "IMAGENET16_STD",
    "NUMPY_ARRAY_GLOBALS",
    "NUMPY_SCALAR_GLOBALS",
    "SOURCES",
    "RestrictedUnpickler",
    "UnsafePickleError",
    "augment_uint8",
    "data_dir",
    "data_file",
    "detect_cifar_folder",
    "fixed_batch_seed",
    "load_cifar10_subset",
    "load_cifar100_subset",
    "load_cifar_batches_py",
    "minibatch",
    "normalize",
    "random_crop",
    "random_hflip",
    "resize",
    "restricted_load",
    "restricted_loads",
    "to_tensor",
]
