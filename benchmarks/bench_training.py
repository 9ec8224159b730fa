"""Benchmark: seconds per training epoch of each reduced-training preset, on the real CIFAR-10 subset.

Run:  nice -n 10 .venv/bin/python benchmarks/bench_training.py [--cells 3] [--epochs 2] [--threads 1]

For each of ``--cells`` seeded NB-201 cells (the first of the 1,000-cell seed-0 sample) and each preset, in the
same run and interleaved cell by cell (so machine noise hits every preset alike), it trains ``--epochs`` epochs
with ``zcnas.training.train_epoch`` on the 5,000 training images (batch 64) and times:

- the epoch (data preparation included) and the validation pass over the 1,000 test images;
- the data preparation alone: one epoch of ``ImageData.train_batches`` (shuffle, crop, flip, to float,
  resize, normalise, from the in-memory uint8 array), its share of the epoch, and the same epoch's images
  prepared one image at a time (the per-image path a folder-of-JPEG loader would take, without decoding);
- the baseline: one forward + backward + SGD step of the cell's full-size network on a batch of 64, the
  unit of the cost axis (one minibatch-equivalent).

It prints medians over cells and epochs, the epoch time as a multiple of the baseline (the runtime cost of an
epoch in measured minibatch-equivalents) next to the FLOP-based cost the trainer records, and the per-image
path's slow-down. Timings on a shared machine: compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from zcnas.data.transforms import augment_uint8, normalize, resize, to_tensor
from zcnas.training import PRESETS, TrainSettings, cell_flops, evaluate, minibatch_equivalents, train_epoch
from zcnas.training.data import ImageData, load_dataset
from zcnas.training.study import choose_cells


def baseline_step(cell: str, x: torch.Tensor, y: torch.Tensor, repeats: int = 3) -> float:
    """Median seconds of one forward + backward + step of the full-size network on one batch of 64."""
    settings = TrainSettings.from_preset("full")
    net = settings.space_obj.build_model(cell, 10, seed=0)
    opt = settings.recipe.optimizer(net.parameters())
    times = []
    for _ in range(repeats + 1):
        began = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
        times.append(time.perf_counter() - began)
    return statistics.median(times[1:])


def per_image_epoch(data: ImageData, rng: np.random.Generator, batch: int) -> float:
    """Seconds to prepare one epoch one image at a time (augment, to float, resize, normalise each image)."""
    began = time.perf_counter()
    order = rng.permutation(data.num_train)
    for start in range(0, data.num_train, batch):
        images = [normalize(resize(to_tensor(augment_uint8(data.train_x[i:i + 1], rng)), data.resolution))
                  for i in order[start:start + batch]]
        torch.cat(images)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train_x, train_y, val_x, val_y = load_dataset("cifar10")
    cells = choose_cells("nb201", 1000, 0, None)[: args.cells]
    g = torch.Generator().manual_seed(0)
    xb, yb = torch.randn(64, 3, 32, 32, generator=g), torch.randint(0, 10, (64,), generator=g)
    rec: dict[str, dict[str, list[float]]] = {p: {k: [] for k in ("epoch", "eval", "prep", "per_image", "cost")}
                                              for p in PRESETS}
    base: list[float] = []
    for i, cell in enumerate(cells):
        base.append(baseline_step(cell, xb, yb))
        for name in PRESETS:
            s = TrainSettings.from_preset(name)
            data = ImageData(train_x, train_y, val_x, val_y, resolution=s.resolution)
            net = s.space_obj.build_model(cell, 10, seed=i, **s.model_options)
            opt = s.recipe.optimizer(net.parameters())
            flops = cell_flops(s.space_obj, cell, 10, s.model_options, s.resolution)
            for epoch in range(args.epochs):
                rng = np.random.default_rng(epoch)
                began = time.perf_counter()
                for _ in data.train_batches(rng, 64):
                    pass
                rec[name]["prep"].append(time.perf_counter() - began)
                began = time.perf_counter()
                stats = train_epoch(net, opt, data.train_batches(np.random.default_rng(epoch), 64))
                rec[name]["epoch"].append(time.perf_counter() - began)
                began = time.perf_counter()
                evaluate(net, data.val_inputs, data.val_targets)
                rec[name]["eval"].append(time.perf_counter() - began)
                rec[name]["cost"].append(minibatch_equivalents(flops[0], stats.samples, flops[1]))
            rec[name]["per_image"].append(per_image_epoch(data, np.random.default_rng(0), 64))
        base.append(baseline_step(cell, xb, yb))
    b = statistics.median(base)
    print(f"machine: {torch.get_num_threads()} torch thread(s), shared; {len(cells)} cells x {args.epochs} epochs, "
          f"5,000 training images, batch 64")
    print(f"baseline: full-size forward+backward+step, batch 64: median {b:.3f} s over {len(base)}")
    print("| preset | s/epoch | s/validation | data prep s/epoch | prep share | per-image prep s/epoch | "
          "per-image / batched | epoch / baseline | FLOP cost / epoch |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rec.items():
        med = {k: statistics.median(v) for k, v in r.items()}
        print(f"| {name} | {med['epoch']:.2f} | {med['eval']:.2f} | {med['prep']:.3f} | "
              f"{med['prep'] / med['epoch']:.1%} | {med['per_image']:.2f} | {med['per_image'] / med['prep']:.1f}x | "
              f"{med['epoch'] / b:.1f} | {med['cost']:.2f} |")


if __name__ == "__main__":
    main()
