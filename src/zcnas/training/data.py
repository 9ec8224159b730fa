"""Training and validation images held in memory, served as normalised batches at a reduced resolution.

The images are decoded once (the npz subsets are uint8 arrays); each epoch shuffles them with the epoch's
generator, and each batch is augmented (the reference's random crop with 4 pixels of zero padding, then a
horizontal flip, at 32x32), scaled to [0, 1], resized to the training resolution (bilinear, antialiased when
shrinking, as EcoNAS trains on downsampled images) and normalised with the CIFAR mean and std. The validation
images are resized and normalised once and kept as one tensor. Nothing is decoded per image.

Example:
    >>> import numpy as np
    >>> x = np.zeros((10, 32, 32, 3), dtype=np.uint8); y = np.arange(10) % 2
    >>> data = ImageData(x, y, x[:4], y[:4], resolution=8)
    >>> [tuple(b.shape) for b, _ in data.train_batches(np.random.default_rng(0), batch_size=4)]
    [(4, 3, 8, 8), (4, 3, 8, 8), (2, 3, 8, 8)]
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from zcnas.data.cifar import load_cifar10_subset, load_cifar100_subset
from zcnas.data.transforms import CIFAR_MEAN, CIFAR_STD, augment_uint8, normalize, resize, to_tensor

__all__ = ["DATASETS", "ImageData", "load_dataset", "subset_indices"]

#: Datasets a reduced-training run can use: the subsets in the shared data folder (train, and test as validation).
DATASETS: dict[str, object] = {"cifar10": load_cifar10_subset, "cifar100": load_cifar100_subset}


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(train_x, train_y, val_x, val_y)`` of a subset in the data folder (its test images as validation)."""
    if name not in DATASETS:
        raise ValueError(f"dataset {name!r} is not available for training; use one of: {', '.join(DATASETS)}")
    loader = DATASETS[name]
    train_x, train_y = loader("train")  # type: ignore[operator]
    val_x, val_y = loader("test")  # type: ignore[operator]
    return train_x, train_y, val_x, val_y


def subset_indices(n: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A sorted uniform draw of ``round(fraction * n)`` (at least 1) of ``n`` positions, without replacement.

    Example:
        >>> subset_indices(10, 0.3, np.random.default_rng(0)).tolist()
        [5, 6, 9]
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"train_fraction={fraction!r} is not allowed; use a number in (0, 1]")
    if fraction == 1.0:
        return np.arange(n)
    k = max(1, int(round(fraction * n)))
    return np.sort(rng.choice(n, size=k, replace=False))


class ImageData:
    """In-memory uint8 images (NHWC) and labels, served as float batches at ``resolution``.

    Args:
        train_x, train_y: training images and labels.
        val_x, val_y: validation images and labels.
        resolution: side of the images the network sees.
        augment: apply the reference's random crop and flip to training batches.
        mean, std: normalisation constants.
    """

    def __init__(self, train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray, *,
                 resolution: int, augment: bool = True, mean: tuple[float, ...] = CIFAR_MEAN,
                 std: tuple[float, ...] = CIFAR_STD) -> None:
        if train_x.ndim != 4 or train_x.shape[0] != train_y.shape[0] or val_x.shape[0] != val_y.shape[0]:
            raise ValueError(f"expected NHWC images with one label each; got {train_x.shape} / {train_y.shape} "
                             f"and {val_x.shape} / {val_y.shape}")
        self.train_x = train_x
        self.train_y = np.asarray(train_y, dtype=np.int64)
        self.resolution = int(resolution)
        self.augment = bool(augment)
        self.mean, self.std = mean, std
        self.val_inputs = self._prepare(val_x)
        self.val_targets = torch.from_numpy(np.asarray(val_y, dtype=np.int64).copy())

    @property
    def num_train(self) -> int:
        """Training images per epoch."""
        return int(self.train_x.shape[0])

    def _prepare(self, images: np.ndarray) -> torch.Tensor:
        return normalize(resize(to_tensor(images), self.resolution), self.mean, self.std)

    def train_batches(self, rng: np.random.Generator, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch: a permutation drawn from ``rng``, then per batch the augmentation's draws from ``rng``.

        The last batch is smaller when the batch size does not divide the images (nothing is dropped).
        """
        order = rng.permutation(self.num_train)
        for start in range(0, self.num_train, batch_size):
            index = order[start:start + batch_size]
            images = self.train_x[index]
            if self.augment:
                images = augment_uint8(images, rng)
            yield self._prepare(images), torch.from_numpy(self.train_y[index])
