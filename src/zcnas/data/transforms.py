"""The reference's normalisation and training augmentation, in numpy/torch with a passed-in generator.

The reference (``foresight/dataset.py``) trains and scores on ``RandomCrop(32, padding=4)`` (zero padding),
``Resize``, ``RandomHorizontalFlip`` and ``Normalize``. Here the same steps run on uint8 NHWC batches with a
``numpy.random.Generator``; no torchvision.

Random draws, in this order, per batch: crop offsets ``rng.integers(0, 2*padding+1, size=(n, 2))`` (rows,
columns), then flips ``rng.random(n) < 0.5``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "CIFAR_MEAN",
    "CIFAR_STD",
    "IMAGENET16_MEAN",
    "IMAGENET16_STD",
    "augment_uint8",
    "normalize",
    "random_crop",
    "random_hflip",
    "resize",
    "to_tensor",
]

#: Per-channel RGB mean and std of CIFAR used by the reference (pixels scaled to [0, 1]).
CIFAR_MEAN: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
CIFAR_STD: tuple[float, float, float] = (0.2023, 0.1994, 0.2010)
#: ImageNet16-120 constants used by the reference.
IMAGENET16_MEAN: tuple[float, float, float] = (122.68 / 255, 116.66 / 255, 104.01 / 255)
IMAGENET16_STD: tuple[float, float, float] = (63.22 / 255, 61.26 / 255, 65.09 / 255)


def _check_nhwc(images: np.ndarray) -> None:
    if images.ndim != 4:
        raise ValueError(f"images must be a 4-d NHWC array, got shape {tuple(images.shape)}.")


def random_crop(images: np.ndarray, size: int, padding: int, rng: np.random.Generator) -> np.ndarray:
    """Zero-pad each image by ``padding`` and cut a random ``size`` x ``size`` window (one draw per image).

    Args:
        images: NHWC array.
        size: Output height and width.
        padding: Zero padding on every side before cropping.
        rng: Generator for the offsets, drawn as ``rng.integers(0, H+2p-size+1, size=(n, 2))``.

    Returns:
        NHWC array of the same dtype with spatial size ``size``.

    Example:
        >>> import numpy as np
        >>> x = np.ones((2, 4, 4, 3), dtype=np.uint8)
        >>> random_crop(x, 4, 1, np.random.default_rng(0)).shape
        (2, 4, 4, 3)
    """
    _check_nhwc(images)
    n, h, w, _ = images.shape
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}.")
    if size > h + 2 * padding or size > w + 2 * padding:
        raise ValueError(
            f"crop size {size} is larger than the padded image ({h + 2 * padding}x{w + 2 * padding})."
        )
    padded = np.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    max_y = h + 2 * padding - size
    max_x = w + 2 * padding - size
    offsets = rng.integers(0, [max_y + 1, max_x + 1], size=(n, 2))
    rows = offsets[:, 0, None] + np.arange(size)  # (n, size)
    cols = offsets[:, 1, None] + np.arange(size)
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def random_hflip(images: np.ndarray, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    """Flip each image left-right with probability ``p`` (one draw ``rng.random(n) < p``).

    Example:
        >>> import numpy as np
        >>> x = np.arange(4, dtype=np.uint8).reshape(1, 1, 4, 1)
        >>> random_hflip(x, np.random.default_rng(0), p=1.0)[0, 0, :, 0].tolist()
        [3, 2, 1, 0]
    """
    _check_nhwc(images)
    flip = rng.random(images.shape[0]) < p
    out = images.copy()
    out[flip] = out[flip][:, :, ::-1]
    return out


def augment_uint8(
    images: np.ndarray, rng: np.random.Generator, *, size: int = 32, padding: int = 4
) -> np.ndarray:
    """The reference's training augmentation on uint8 NHWC images: random crop (zero padding), then flip.

    Example:
        >>> import numpy as np
        >>> x = np.zeros((3, 32, 32, 3), dtype=np.uint8)
        >>> augment_uint8(x, np.random.default_rng(0)).shape
        (3, 32, 32, 3)
    """
    return random_hflip(random_crop(images, size, padding, rng), rng)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 NHWC -> float32 NCHW in [0, 1] (like torchvision's ``ToTensor``).

    Example:
        >>> import numpy as np
        >>> to_tensor(np.full((1, 2, 2, 3), 255, dtype=np.uint8)).shape
        torch.Size([1, 3, 2, 2])
    """
    _check_nhwc(images)
    arr = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
    return torch.from_numpy(arr).to(torch.float32).div_(255.0)


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of an NCHW float batch to ``size`` x ``size`` (antialiased when shrinking).

    Example:
        >>> import torch
        >>> resize(torch.zeros(1, 3, 32, 32), 16).shape
        torch.Size([1, 3, 16, 16])
    """
    if images.shape[-2:] == (size, size):
        return images
    shrink = size < images.shape[-1] or size < images.shape[-2]
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)


def normalize(
    images: torch.Tensor,
    mean: tuple[float, ...] = CIFAR_MEAN,
    std: tuple[float, ...] = CIFAR_STD,
) -> torch.Tensor:
    """Per-channel ``(x - mean) / std`` on an NCHW float batch (a new tensor).

    Example:
        >>> import torch
        >>> normalize(torch.full((1, 3, 1, 1), 0.4914))[0, 0].item() == 0.0
        True
    """
    if images.ndim != 4 or images.shape[1] != len(mean):
        raise ValueError(
            f"expected an NCHW batch with {len(mean)} channels, got shape {tuple(images.shape)}."
        )
    m = torch.tensor(mean, dtype=images.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=images.dtype).view(1, -1, 1, 1)
    return (images - m) / s
