"""One deterministic minibatch per seed, like one batch of the reference's shuffled training loader.

``np.random.default_rng(seed)`` first chooses ``batch_size`` distinct indices (uniform over the split), then
the same generator drives the augmentation (crop offsets, then flips). Same arguments -> bit-identical tensors.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from zcnas.data.cifar import (
    detect_cifar_folder,
    load_cifar10_subset,
    load_cifar100_subset,
    load_cifar_batches_py,
)
from zcnas.data.text import DEFAULT_BPTT, TEXT_SOURCES, text_window
from zcnas.data.transforms import CIFAR_MEAN, CIFAR_STD, augment_uint8, normalize, resize, to_tensor
from zcnas.data.zoo_data import ZOO_SOURCES, zoo_minibatch

__all__ = ["DEFAULT_SOURCES", "SOURCES", "fixed_batch_seed", "minibatch"]

#: Accepted ``source`` values of :func:`minibatch`, with their number of classes (None: chosen by the caller).
SOURCES: dict[str, int | None] = {
    "cifar10": 10,
    "cifar100": 100,
    "cifar10-batches-py": 10,
    "cifar100-python": 100,
    "synthetic": None,
    **TEXT_SOURCES,
    **ZOO_SOURCES,
}

#: The minibatch source used for a dataset when none is named: the shared data folder's subset.
DEFAULT_SOURCES: dict[str, str] = {"cifar10": "cifar10", "cifar100": "cifar100", "svhn": "svhn", "imagenet": "imagenet",
                                   "ptb": "ptb", "wikitext2": "wikitext2"}

_MAX_SEED = 2**63 - 1


def fixed_batch_seed(seed: int, key: str) -> int:
    """A stable 63-bit seed from a run seed and a key (e.g. an architecture string).

    Uses BLAKE2b, so it is the same in every process and Python version (unlike the salted ``hash()``).

    Args:
        seed: The run seed.
        key: Any string; different keys give (almost surely) different seeds.

    Returns:
        An integer in ``[0, 2**63)``.

    Example:
        >>> fixed_batch_seed(0, "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|") >= 0
        True
        >>> fixed_batch_seed(0, "a") == fixed_batch_seed(0, "a") != fixed_batch_seed(1, "a")
        True
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {seed!r}.")
    digest = hashlib.blake2b(f"{int(seed)}\x1f{key}".encode(), digest_size=8, person=b"zcnas-batch").digest()
    return int.from_bytes(digest, "little") & _MAX_SEED


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _load_split(source: str, split: str, folder: str | Path | None) -> tuple[np.ndarray, np.ndarray]:
    if source == "cifar10":
        return load_cifar10_subset(split)
    if source == "cifar100":
        return load_cifar100_subset(split)
    if folder is None:
        raise ValueError(
            f"source {source!r} needs folder= pointing at the unpacked official CIFAR python folder."
        )
    kind = detect_cifar_folder(folder)
    expected = "cifar10" if source == "cifar10-batches-py" else "cifar100"
    if kind != expected:
        raise ValueError(
            f"folder {folder} holds {kind} files, not what source {source!r} reads ({expected})."
        )
    return load_cifar_batches_py(folder, split)


def minibatch(
    source: str = "cifar10",
    batch_size: int = 64,
    seed: int = 0,
    *,
    split: str = "train",
    augment: bool = False,
    num_classes: int | None = None,
    image_size: int = 32,
    folder: str | Path | None = None,
    bptt: int = DEFAULT_BPTT,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return one deterministic, normalised minibatch ``(inputs float32 NCHW, targets int64)``.

    Args:
        source: ``"cifar10"`` / ``"cifar100"`` (the shared npz subsets), ``"cifar10-batches-py"`` / ``"cifar100-python"``
            (the official python folder given by ``folder``) or ``"synthetic"`` (standard-normal images,
            uniform labels; ``split`` and ``augment`` do not apply), or ``"svhn"`` / ``"imagenet"`` (the data
            folder's SVHN and ImageNet-1k samples, see ``zcnas.data.zoo_data``).
        batch_size: Images in the batch, 1..size of the split (any positive number for ``"synthetic"``).
        seed: Non-negative seed; chooses the images (without replacement) and then the augmentation.
        split: ``"train"`` or ``"test"``.
        augment: Apply the reference's training augmentation (random crop 32 with zero padding 4, then a
            random horizontal flip) before normalising, as the reference's scoring loader does.
        num_classes: Label range. ``None`` means the dataset's own (10 or 100; 10 for ``"synthetic"``); for a
            real dataset any other value is an error.
        image_size: Output height/width; other than 32 the batch is resized bilinearly after cropping.
        folder: The CIFAR python folder for the ``*-batches-py`` / ``*-python`` sources.
        bptt: Tokens per row for the text sources ``"ptb"`` / ``"wikitext2"``, which return one seeded window
            ``(inputs, next-token targets)`` of int64 token ids, shape ``(batch_size, bptt)``, from split
            ``"train"``, ``"valid"`` or ``"test"`` (see ``zcnas.data.text.text_window``; ``image_size`` does not
            apply and ``augment`` is refused).

    Returns:
        ``(inputs, targets)``: ``(batch_size, 3, image_size, image_size)`` float32 normalised with the CIFAR
        mean/std, and int64 labels. CIFAR-100 batches use the same CIFAR-10 statistics, as the reference's
        loader does for every CIFAR dataset.

    Raises:
        ValueError: Unknown source or split, bad batch size, negative seed, mismatched classes.

    Example:
        >>> x, y = minibatch("synthetic", batch_size=4, seed=1)
        >>> tuple(x.shape), y.dtype
        ((4, 3, 32, 32), torch.int64)
    """
    if source not in SOURCES:
        raise ValueError(f"source {source!r} is unknown; allowed: {', '.join(SOURCES)}.")
    if source in TEXT_SOURCES:  # "ptb", "wikitext2": token windows, see zcnas.data.text
        if augment:
            raise ValueError(f"augment=True is not allowed for the text source {source!r}; text has no augmentation.")
        if num_classes is not None and num_classes != TEXT_SOURCES[source]:
            raise ValueError(
                f"num_classes={num_classes!r} does not match source {source!r}, which has {TEXT_SOURCES[source]} words."
            )
        return text_window(source, batch_size, seed, split=split, bptt=bptt)
    batch_size = _check_int("batch_size", batch_size, 1)
    seed = _check_int("seed", seed, 0)
    image_size = _check_int("image_size", image_size, 1)
    if split not in ("train", "test"):
        raise ValueError(f"split {split!r} is not allowed; use 'train' or 'test'.")
    rng = np.random.default_rng(seed)

    if source == "synthetic":
        classes = 10 if num_classes is None else _check_int("num_classes", num_classes, 1)
        inputs = torch.from_numpy(
            rng.standard_normal((batch_size, 3, image_size, image_size), dtype=np.float32)
        )
        targets = torch.from_numpy(rng.integers(0, classes, size=batch_size, dtype=np.int64))
        return inputs, targets

    dataset_classes = SOURCES[source]
    if num_classes is not None and num_classes != dataset_classes:
        raise ValueError(
            f"num_classes={num_classes!r} does not match source {source!r}, which has {dataset_classes}."
        )
    if source in ZOO_SOURCES:  # svhn, imagenet: see zcnas.data.zoo_data
        return zoo_minibatch(source, batch_size, seed, split=split, augment=augment, image_size=image_size)
    x, y = _load_split(source, split, folder)
    if batch_size > len(x):
        raise ValueError(
            f"batch_size {batch_size} is larger than the {split} split of {source!r} ({len(x)} images)."
        )
    idx = rng.choice(len(x), size=batch_size, replace=False)
    images = x[idx]
    if augment:
        images = augment_uint8(images, rng, size=32, padding=4)
    inputs = normalize(resize(to_tensor(images), image_size), CIFAR_MEAN, CIFAR_STD)
    targets = torch.from_numpy(np.ascontiguousarray(y[idx], dtype=np.int64))
    return inputs.contiguous(), targets
