"""Minibatch sources for the zoo datasets beyond CIFAR: SVHN and ImageNet-1k images in the data folder.

- ``svhn``: ``svhn/svhn_1204.npz``, 1,204 real SVHN digits, 32 x 32, labels 0..9 (0 is the digit 0).
  Normalised with the CIFAR statistics (``CIFAR_MEAN`` / ``CIFAR_STD``), as our CIFAR batches are: the data
  folder names no SVHN statistics, and one fixed affine map per channel is what the proxies see either way.
- ``imagenet``: ``imagenet/imagenet_256_classes_224.npz``, 256 real ImageNet-1k images (one for each of 256
  evenly spaced classes), already resized to 256 and centre-cropped to 224 x 224, labels the standard class
  index 0..999. Normalised with the usual ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).

Each file is one pool of images (the source states no train/test split), so only ``split="train"`` is
accepted. A batch is drawn as ``zcnas.data.batches.minibatch`` draws one: ``np.random.default_rng(seed)``
chooses ``batch_size`` distinct images, then (SVHN only, with ``augment``) the same generator drives the
reference's crop-and-flip augmentation.

Example:
    >>> x, y = zoo_minibatch("svhn", batch_size=4, seed=0)          # doctest: +SKIP
    >>> tuple(x.shape), int(y.max()) <= 9                             # doctest: +SKIP
    ((4, 3, 32, 32), True)
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from zcnas.data.paths import data_file
from zcnas.data.transforms import CIFAR_MEAN, CIFAR_STD, augment_uint8, normalize, resize, to_tensor

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ZOO_FILES",
    "ZOO_SOURCES",
    "load_zoo_images",
    "zoo_minibatch",
]

#: The usual ImageNet per-channel RGB mean and std (pixels scaled to [0, 1]).
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

#: Source name -> number of classes.
ZOO_SOURCES: dict[str, int] = {"svhn": 10, "imagenet": 1000}

#: Source name -> (file in the data folder, image side, what it is).
ZOO_FILES: dict[str, tuple[str, int, str]] = {
    "svhn": ("svhn/svhn_1204.npz", 32, "the SVHN sample (1,204 digits)"),
    "imagenet": ("imagenet/imagenet_256_classes_224.npz", 224, "the ImageNet-1k sample (256 images, 224x224)"),
}

_STATS = {"svhn": (CIFAR_MEAN, CIFAR_STD), "imagenet": (IMAGENET_MEAN, IMAGENET_STD)}


def load_zoo_images(source: str) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels of ``source`` (``svhn`` or ``imagenet``), read-only, cached per process.

    Returns:
        ``(x, y)``: uint8 ``(N, H, W, 3)`` RGB and int64 labels.

    Raises:
        ValueError: an unknown source, or a file whose arrays do not have the documented shapes.
        FileNotFoundError: the file is not in the data folder (the message says where it looked).
    """
    if source not in ZOO_FILES:
        raise ValueError(f"source {source!r} is not a zoo image source; use one of: {', '.join(ZOO_FILES)}")
    relative, side, what = ZOO_FILES[source]
    path = data_file(relative, what)
    return _load(str(path.resolve()), side, ZOO_SOURCES[source])


@functools.lru_cache(maxsize=2)
def _load(path: str, side: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        if "x" not in data or "y" not in data:
            raise ValueError(f"{path} must hold arrays 'x' and 'y', found {sorted(data.files)}.")
        x = np.ascontiguousarray(data["x"], dtype=np.uint8)
        y = np.asarray(data["y"]).astype(np.int64)
    if x.ndim != 4 or x.shape[1:] != (side, side, 3) or y.shape != (x.shape[0],):
        raise ValueError(f"{path} must hold x (N, {side}, {side}, 3) and y (N,), got {x.shape} and {y.shape}.")
    if y.size and (int(y.min()) < 0 or int(y.max()) >= classes):
        raise ValueError(f"{path} has labels {int(y.min())}..{int(y.max())}, outside 0..{classes - 1}.")
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def zoo_minibatch(
    source: str,
    batch_size: int = 64,
    seed: int = 0,
    *,
    split: str = "train",
    augment: bool = False,
    image_size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One deterministic, normalised minibatch of ``source`` (``svhn`` or ``imagenet``).

    Args:
        source: ``"svhn"`` or ``"imagenet"``.
        batch_size: images, 1..the file's number of images (1,204 / 256).
        seed: non-negative; chooses the images, then the augmentation.
        split: only ``"train"`` (each file is one pool of images).
        augment: SVHN only: the reference's crop 32 with padding 4 and horizontal flip.
        image_size: output side; default the file's own (32 / 224); otherwise resized bilinearly.

    Returns:
        ``(inputs float32 (B, 3, S, S), targets int64 (B,))``.
    """
    if source not in ZOO_SOURCES:
        raise ValueError(f"source {source!r} is not a zoo image source; use one of: {', '.join(ZOO_SOURCES)}")
    if split != "train":
        raise ValueError(f"split {split!r} is not available for source {source!r}, whose file is one pool of "
                         "images; use split='train'")
    if augment and source == "imagenet":
        raise ValueError("augment=True is not available for source 'imagenet' (its images are already "
                         "centre-cropped to 224); use augment=False")
    x, y = load_zoo_images(source)
    if batch_size > len(x):
        raise ValueError(f"batch_size {batch_size} is larger than source {source!r} ({len(x)} images).")
    side = ZOO_FILES[source][1]
    size = side if image_size is None else int(image_size)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(x), size=batch_size, replace=False)
    images = x[idx]
    if augment:
        images = augment_uint8(images, rng, size=side, padding=4)
    mean, std = _STATS[source]
    inputs = normalize(resize(to_tensor(images), size), mean, std)
    targets = torch.from_numpy(np.ascontiguousarray(y[idx], dtype=np.int64))
    return inputs.contiguous(), targets
