"""The reduced-training settings and the paper's presets, checked in full before anything runs.

Presets (``PRESETS``), after the paper's Figure 2 (REFERENCE.md section 3):

- ``econas``: input resolution 8, stem channels 4 (EcoNAS's r8c4), a 40-epoch cosine schedule of which the
  first 20 epochs run (the paper's point is epoch 20);
- ``econas+``: r16c8, the first 15 epochs of a 40-epoch schedule (the paper's point is epoch 15);
- ``full``: the full-size network at full resolution, the first 12 epochs of NAS-Bench-201's 200-epoch
  schedule (the paper's baseline curve runs over epochs 0-11).

``epochs`` is how many epochs run; ``schedule_epochs`` is the length of the cosine schedule. Running fewer
epochs than the schedule stops early on the same learning rates, so epoch ``k`` of a preset means the same
thing whatever ``epochs`` is. Overrides (``epochs``, ``resolution``, ``channels``, ``train_fraction``, ...)
replace a preset's values.

Example:
    >>> s = TrainSettings.from_preset("econas", seed=0)
    >>> s.resolution, s.model_options["channels"], s.epochs, s.schedule_epochs
    (8, 4, 20, 40)
    >>> TrainSettings.from_preset("econas", epochs=50)
    Traceback (most recent call last):
    ...
    ValueError: epochs=50 is not allowed; use an integer in 1..40 (the preset's cosine schedule has 40 epochs; raise schedule_epochs to train longer)
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch

from zcnas import __version__
from zcnas.data.batches import fixed_batch_seed
from zcnas.spaces import get_space
from zcnas.spaces.base import SearchSpace
from zcnas.training.data import DATASETS
from zcnas.training.recipe import Recipe

__all__ = ["MAX_SEED", "PRESETS", "Preset", "TrainSettings"]

MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class Preset:
    """A named reduced-training setting. ``None`` resolution / channels mean the space's own (full size)."""

    name: str
    resolution: int | None
    channels: int | None
    epochs: int
    schedule_epochs: int
    description: str


PRESETS: dict[str, Preset] = {
    "econas": Preset("econas", 8, 4, 20, 40, "EcoNAS r8c4: epochs 1-20 of a 40-epoch cosine schedule"),
    "econas+": Preset("econas+", 16, 8, 15, 40, "EcoNAS+ r16c8: epochs 1-15 of a 40-epoch cosine schedule"),
    "full": Preset("full", None, None, 12, 200,
                   "full size (r32c16 on NB-201): epochs 1-12 of the benchmark's 200-epoch schedule"),
}


def _int(name: str, value: Any, low: int, high: int | None = None, why: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}={value!r} is not allowed; use an integer >= {low}")
    value = int(value)
    if value < low or (high is not None and value > high):
        bound = f"in {low}..{high}" if high is not None else f">= {low}"
        raise ValueError(f"{name}={value} is not allowed; use an integer {bound}{why}")
    return value


@dataclass(frozen=True)
class TrainSettings:
    """Everything that decides a reduced-training result; recorded in the run folder's ``config.json``.

    Attributes:
        space: a registered image space.
        dataset: ``cifar10`` or ``cifar100``: the subset in the data folder (train, with its test images as
            validation).
        preset: the preset these settings started from (a label; the values below are what counts).
        resolution: side of the input images the network sees.
        epochs: epochs run per cell.
        schedule_epochs: length of the cosine schedule (>= epochs).
        train_fraction: share of the training images used (a seeded subset, the same for every cell).
        augment: the reference's random crop (padding 4) and flip on training batches.
        recipe: optimiser, learning rate and batch size.
        seed: run seed; with the cell string it seeds each cell's init and each epoch's shuffle and crops.
        model_options: the space's ``build_model`` options (channels included), checked by the space.
        torch_threads: intra-op threads (float summation order, hence the result, depends on it).
    """

    space: str = "nb201"
    dataset: str = "cifar10"
    preset: str = "econas"
    resolution: int = 8
    epochs: int = 20
    schedule_epochs: int = 40
    train_fraction: float = 1.0
    augment: bool = True
    recipe: Recipe = field(default_factory=Recipe)
    seed: int = 0
    model_options: dict[str, Any] = field(default_factory=dict)
    torch_threads: int = 1

    def __post_init__(self) -> None:
        space = get_space(self.space)
        object.__setattr__(self, "space", space.name)
        if len(space.input_shape) != 3 or space.input_dtype != "float":
            raise ValueError(f"space {space.name!r} does not take images (input shape {space.input_shape}); "
                             "reduced training needs an image space")
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset {self.dataset!r} is not available for training; use one of: "
                             f"{', '.join(DATASETS)}")
        space.num_classes(self.dataset)
        object.__setattr__(self, "model_options", space.check_options(self.model_options))
        _int("resolution", self.resolution, 1)
        _int("schedule_epochs", self.schedule_epochs, 1)
        _int("epochs", self.epochs, 1, self.schedule_epochs,
             f" (the preset's cosine schedule has {self.schedule_epochs} epochs; raise schedule_epochs to train longer)")
        fraction = self.train_fraction
        if (isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not math.isfinite(fraction)
                or not 0.0 < fraction <= 1.0):
            raise ValueError(f"train_fraction={fraction!r} is not allowed; use a number in (0, 1]")
        object.__setattr__(self, "train_fraction", float(fraction))
        if not isinstance(self.augment, bool):
            raise ValueError(f"augment={self.augment!r} is not allowed; use true or false")
        if not isinstance(self.recipe, Recipe):
            raise ValueError(f"recipe={self.recipe!r} is not allowed; use a zcnas.training.Recipe")
        _int("seed", self.seed, 0, MAX_SEED)
        _int("torch_threads", self.torch_threads, 1)

    @classmethod
    def from_preset(cls, preset: str = "econas", *, space: str | SearchSpace = "nb201", epochs: int | None = None,
                    resolution: int | None = None, channels: int | None = None,
                    train_fraction: float | None = None, schedule_epochs: int | None = None,
                    batch_size: int | None = None, space_options: dict[str, Any] | None = None,
                    **fields: Any) -> TrainSettings:
        """A preset's settings with overrides; every value is checked (one ValueError naming the bad one).

        Args:
            preset: a name in ``PRESETS``.
            space: a registered image space.
            epochs, resolution, channels, train_fraction, schedule_epochs, batch_size: override the preset.
            space_options: other ``build_model`` options of the space (e.g. ``cells_per_stage``).
            fields: other ``TrainSettings`` fields (dataset, augment, seed, torch_threads, recipe).
        """
        if preset not in PRESETS:
            raise ValueError(f"preset {preset!r} is not known; use one of: {', '.join(PRESETS)}")
        p = PRESETS[preset]
        space_obj = get_space(space)
        options = dict(space_options or {})
        if "channels" in options:
            raise ValueError("set channels with channels=..., not in space_options")
        declared = {o.name for o in space_obj.model_options}
        channels = p.channels if channels is None else channels
        if channels is not None:
            if "channels" not in declared:
                raise ValueError(f"space {space_obj.name!r} has no channels option, so channels={channels!r} "
                                 "cannot be set; use a preset without channels or another space")
            options["channels"] = channels
        resolution = (p.resolution or space_obj.input_shape[-1]) if resolution is None else resolution
        recipe = fields.pop("recipe", Recipe())
        if batch_size is not None:
            recipe = replace(recipe, batch_size=_int("batch_size", batch_size, 1))
        return cls(space=space_obj.name, preset=preset, resolution=resolution,
                   epochs=p.epochs if epochs is None else epochs,
                   schedule_epochs=p.schedule_epochs if schedule_epochs is None else schedule_epochs,
                   train_fraction=1.0 if train_fraction is None else train_fraction, recipe=recipe,
                   model_options=options, **fields)

    @property
    def space_obj(self) -> SearchSpace:
        """The registered space."""
        return get_space(self.space)

    @property
    def num_classes(self) -> int:
        """Outputs of the networks (the dataset's classes)."""
        return self.space_obj.num_classes(self.dataset)

    def cell_seed(self, kind: str, cell: str, epoch: int | None = None) -> int:
        """A stable seed for one cell's ``kind`` ("init", "data"), and epoch, from the run seed."""
        key = f"train-{kind}|{cell}" if epoch is None else f"train-{kind}|{cell}|{epoch}"
        return fixed_batch_seed(self.seed, key)

    def config(self) -> dict[str, Any]:
        """What the run folder records: every setting, the recipe's fields and the package versions."""
        out = {k: v for k, v in asdict(self).items() if k not in ("recipe", "model_options")}
        out.update({f"recipe_{k}": v for k, v in asdict(self.recipe).items()})
        out["model_options"] = dict(self.model_options)
        out.update(kind="reduced-training", zcnas_version=__version__, torch_version=torch.__version__.split("+")[0])
        return out
