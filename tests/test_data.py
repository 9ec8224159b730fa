"""Tests for zcnas.data: paths, CIFAR readers, restricted unpickling, augmentation, minibatches."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from zcnas.data import (
    CIFAR_MEAN,
    CIFAR_STD,
    IMAGENET16_MEAN,
    IMAGENET16_STD,
    NUMPY_ARRAY_GLOBALS,
    UnsafePickleError,
    augment_uint8,
    data_dir,
    data_file,
    detect_cifar_folder,
    fixed_batch_seed,
    load_cifar10_subset,
    load_cifar_batches_py,
    minibatch,
    random_crop,
    random_hflip,
    restricted_loads,
)
from zcnas.data.paths import ENV_VAR

SUBSET = "cifar10/cifar10_train_500per_class.npz"


def _shared_data() -> Path:
    try:
        return data_dir()
    except FileNotFoundError:
        pytest.skip("the shared data folder is not available")


@pytest.fixture(scope="module")
def npz_train() -> tuple[np.ndarray, np.ndarray]:
    path = _shared_data() / SUBSET
    if not path.is_file():
        pytest.skip("the CIFAR-10 subset is not available")
    with np.load(path, allow_pickle=False) as data:
        return data["x"].copy(), data["y"].copy()


# ---------------------------------------------------------------- paths


def test_env_var_overrides_and_missing_file_message_names_path(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert data_dir() == tmp_path
    with pytest.raises(FileNotFoundError) as err:
        data_file("cifar10/nothing.npz", "the CIFAR-10 thing")
    msg = str(err.value)
    assert str(tmp_path / "cifar10/nothing.npz") in msg
    assert "the CIFAR-10 thing" in msg and ENV_VAR in msg
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10/nothing.npz").write_bytes(b"")
    assert data_file("cifar10/nothing.npz", "x") == tmp_path / "cifar10/nothing.npz"


def test_default_candidates_are_all_named(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as err:
        data_file("no/such_file.csv", "a test file")
    msg = str(err.value)
    assert str((tmp_path / ".." / "shared" / "data").resolve() / "no/such_file.csv") in msg
    repo_candidate = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()
    assert str(repo_candidate / "no/such_file.csv") in msg
    assert msg.count("\n") == 0


def test_missing_subset_error_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="cifar10_test_100per_class.npz"):
        load_cifar10_subset("test")


# ---------------------------------------------------------------- npz subset


def test_subset_matches_npz(npz_train):
    x_ref, y_ref = npz_train
    x, y = load_cifar10_subset("train")
    assert x.shape == (5000, 32, 32, 3) and x.dtype == np.uint8
    assert y.dtype == np.int64 and np.array_equal(y, y_ref.astype(np.int64))
    assert np.array_equal(x, x_ref)
    assert np.bincount(y).tolist() == [500] * 10
    assert not x.flags.writeable and not y.flags.writeable
    assert load_cifar10_subset("train")[0] is x  # cached per process
    xt, yt = load_cifar10_subset("test")
    assert xt.shape == (1000, 32, 32, 3) and np.bincount(yt).tolist() == [100] * 10
    with pytest.raises(ValueError, match="'val'"):
        load_cifar10_subset("val")


# ---------------------------------------------------------------- minibatch


def test_minibatch_shapes_labels_and_pixels(npz_train):
    x_ref, y_ref = npz_train
    inputs, targets = minibatch("cifar10", batch_size=64, seed=3)
    assert inputs.shape == (64, 3, 32, 32) and inputs.dtype == torch.float32
    assert targets.shape == (64,) and targets.dtype == torch.int64
    idx = np.random.default_rng(3).choice(5000, size=64, replace=False)
    assert len(set(idx.tolist())) == 64
    assert np.array_equal(targets.numpy(), y_ref[idx].astype(np.int64))
    mean = np.array(CIFAR_MEAN, dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.array(CIFAR_STD, dtype=np.float32).reshape(1, 3, 1, 1)
    expected = (x_ref[idx].transpose(0, 3, 1, 2).astype(np.float32) / 255 - mean) / std
    np.testing.assert_allclose(inputs.numpy(), expected, atol=1e-6)
    lo, hi = (0 - mean) / std, (1 - mean) / std
    assert (inputs.numpy() >= lo - 1e-6).all() and (inputs.numpy() <= hi + 1e-6).all()


def test_normalisation_of_whole_subset(npz_train):
    x_ref, _ = npz_train
    inputs, _ = minibatch("cifar10", batch_size=5000, seed=0)
    got = inputs.double().mean(dim=(0, 2, 3)).numpy()
    subset_mean = x_ref.reshape(-1, 3).astype(np.float64).mean(0) / 255
    expected = (subset_mean - np.array(CIFAR_MEAN)) / np.array(CIFAR_STD)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.abs(got).max() < 0.1  # the subset is CIFAR-like
    assert np.allclose(IMAGENET16_MEAN, np.array([122.68, 116.66, 104.01]) / 255)
    assert np.allclose(IMAGENET16_STD, np.array([63.22, 61.26, 65.09]) / 255)


def test_minibatch_determinism_per_seed():
    for augment in (False, True):
        a = minibatch("cifar10", batch_size=32, seed=7, augment=augment)
        b = minibatch("cifar10", batch_size=32, seed=7, augment=augment)
        c = minibatch("cifar10", batch_size=32, seed=8, augment=augment)
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        assert not torch.equal(a[0], c[0])


def test_augmented_minibatch_is_crop_then_flip_of_the_same_images(npz_train):
    x_ref, _ = npz_train
    plain_x, plain_y = minibatch("cifar10", batch_size=16, seed=11)
    aug_x, aug_y = minibatch("cifar10", batch_size=16, seed=11, augment=True)
    assert torch.equal(plain_y, aug_y)
    assert not torch.equal(plain_x, aug_x)
    rng = np.random.default_rng(11)
    idx = rng.choice(5000, size=16, replace=False)
    expected = augment_uint8(x_ref[idx], rng)
    mean = np.array(CIFAR_MEAN, dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.array(CIFAR_STD, dtype=np.float32).reshape(1, 3, 1, 1)
    expected_t = (expected.transpose(0, 3, 1, 2).astype(np.float32) / 255 - mean) / std
    np.testing.assert_allclose(aug_x.numpy(), expected_t, atol=1e-6)


def test_random_crop_by_hand():
    img = np.arange(16, dtype=np.uint8).reshape(1, 4, 4, 1) + 1
    for seed in range(20):
        oy, ox = np.random.default_rng(seed).integers(0, [3, 3], size=(1, 2))[0]
        padded = np.zeros((6, 6), dtype=np.uint8)
        padded[1:5, 1:5] = img[0, :, :, 0]
        got = random_crop(img, 4, 1, np.random.default_rng(seed))
        assert np.array_equal(got[0, :, :, 0], padded[oy : oy + 4, ox : ox + 4])
    many = random_crop(np.repeat(img, 400, axis=0), 4, 1, np.random.default_rng(0))
    # every one of the 3x3 offsets occurs; an offset of 0 shows the zero padding in row/column 0
    distinct = {m[:, :, 0].tobytes() for m in many}
    assert len(distinct) == 9
    assert any((m[0, :, 0] == 0).all() for m in many)


def test_random_flip_by_hand():
    img = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    assert np.array_equal(random_hflip(img, np.random.default_rng(0), p=1.0), img[:, :, ::-1])
    assert np.array_equal(random_hflip(img, np.random.default_rng(0), p=0.0), img)
    many = np.repeat(img[:1], 200, axis=0)
    flips = np.random.default_rng(5).random(200) < 0.5
    out = random_hflip(many, np.random.default_rng(5))
    assert np.array_equal(out[flips], many[flips][:, :, ::-1])
    assert np.array_equal(out[~flips], many[~flips])
    assert 60 < flips.sum() < 140


def test_image_size_and_test_split():
    x, y = minibatch("cifar10", batch_size=8, seed=0, split="test", image_size=16, augment=True)
    assert x.shape == (8, 3, 16, 16) and y.shape == (8,)
    assert torch.isfinite(x).all()


def test_synthetic_source():
    x, y = minibatch("synthetic", batch_size=256, seed=2, num_classes=100, image_size=8)
    assert x.shape == (256, 3, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert 0 <= int(y.min()) and int(y.max()) < 100 and len(torch.unique(y)) > 50
    assert abs(float(x.mean())) < 0.05 and abs(float(x.std()) - 1) < 0.05
    x2, y2 = minibatch("synthetic", batch_size=256, seed=2, num_classes=100, image_size=8)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.equal(x, minibatch("synthetic", batch_size=256, seed=3, image_size=8)[0])


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"source": "mnist"}, "'mnist'"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 5001}, "5001"),
        ({"seed": -1}, "-1"),
        ({"split": "valid"}, "'valid'"),
        ({"num_classes": 100}, "num_classes=100"),
        ({"source": "cifar10-batches-py"}, "folder"),
        ({"image_size": 0}, "image_size"),
    ],
)
def test_bad_minibatch_arguments(kwargs, needle):
    with pytest.raises(ValueError, match=needle) as err:
        minibatch(**kwargs)
    assert str(err.value).count("\n") == 0


# ---------------------------------------------------------------- fixed_batch_seed


def test_fixed_batch_seed_is_stable_and_distinct():
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    s = fixed_batch_seed(0, arch)
    assert 0 <= s < 2**63 and s == fixed_batch_seed(0, arch)
    assert s != fixed_batch_seed(1, arch) and s != fixed_batch_seed(0, arch + "x")
    seeds = {fixed_batch_seed(0, f"arch{i}") for i in range(1000)}
    assert len(seeds) == 1000
    code = f"from zcnas.data import fixed_batch_seed; print(fixed_batch_seed(0, {arch!r}))"
    for hashseed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        assert int(out.stdout.strip()) == s
    with pytest.raises(TypeError):
        fixed_batch_seed("0", arch)  # type: ignore[arg-type]


# ---------------------------------------------------------------- standard CIFAR python folders


def _planes(n: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """n images whose pixel (r, c) in channel k is (offset + 3*i + k + r + c) % 256, as NHWC and as rows."""
    i = np.arange(n)[:, None, None, None]
    k = np.arange(3)[None, :, None, None]
    r = np.arange(32)[None, None, :, None]
    c = np.arange(32)[None, None, None, :]
    chw = ((offset + 3 * i + k + r + 2 * c) % 256).astype(np.uint8)  # (n, 3, 32, 32)
    return chw.transpose(0, 2, 3, 1), chw.reshape(n, 3072)


def _write_batch(path: Path, rows: np.ndarray, labels: list[int], key: bytes, protocol: int = 4) -> None:
    entry = {
        b"batch_label": b"testing batch",
        key: labels,
        b"data": rows,
        b"filenames": [b"a.png"] * len(labels),
    }
    with open(path, "wb") as f:
        pickle.dump(entry, f, protocol=protocol)


def _make_cifar10(folder: Path, per_batch: int = 3) -> tuple[np.ndarray, np.ndarray]:
    folder.mkdir(parents=True)
    xs, ys = [], []
    for b in range(1, 6):
        nhwc, rows = _planes(per_batch, offset=10 * b)
        labels = [(b + j) % 10 for j in range(per_batch)]
        _write_batch(folder / f"data_batch_{b}", rows, labels, b"labels", protocol=2 if b == 1 else 4)
        xs.append(nhwc)
        ys += labels
    nhwc, rows = _planes(2, offset=99)
    _write_batch(folder / "test_batch", rows, [4, 2], b"labels")
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": []}))
    return np.concatenate(xs), np.array(ys)


def test_cifar10_batches_py_layout(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    x_exp, y_exp = _make_cifar10(folder)
    x, y = load_cifar_batches_py(folder, "train")
    assert x.shape == (15, 32, 32, 3) and x.dtype == np.uint8 and y.dtype == np.int64
    assert np.array_equal(x, x_exp) and np.array_equal(y, y_exp)
    # channel-major planes: R first. Pixel (0, 0) of image 0 of batch 1 is 10, 11, 12 in R, G, B.
    assert x[0, 0, 0].tolist() == [10, 11, 12] and x[0, 0, 1].tolist() == [12, 13, 14]
    xt, yt = load_cifar_batches_py(tmp_path, "test")  # the parent folder works too
    assert xt.shape == (2, 32, 32, 3) and yt.tolist() == [4, 2]
    assert detect_cifar_folder(folder) == "cifar10"
    inputs, targets = minibatch("cifar10-batches-py", batch_size=15, seed=0, folder=folder)
    idx = np.random.default_rng(0).choice(15, size=15, replace=False)
    assert targets.tolist() == y_exp[idx].tolist() and inputs.shape == (15, 3, 32, 32)
    with pytest.raises(ValueError, match="16"):
        minibatch("cifar10-batches-py", batch_size=16, seed=0, folder=folder)
    with pytest.raises(ValueError, match="cifar10"):
        minibatch("cifar100-python", batch_size=2, seed=0, folder=folder)


def test_cifar100_python_layout(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    nhwc, rows = _planes(4, offset=1)
    entry = {b"data": rows, b"fine_labels": [99, 0, 50, 7], b"coarse_labels": [1, 2, 3, 4]}
    (folder / "train").write_bytes(pickle.dumps(entry))
    entry_t = {b"data": rows[:1], b"fine_labels": [42], b"coarse_labels": [0]}
    (folder / "test").write_bytes(pickle.dumps(entry_t))
    assert detect_cifar_folder(tmp_path) == "cifar100"
    x, y = load_cifar_batches_py(folder, "train")
    assert np.array_equal(x, nhwc) and y.tolist() == [99, 0, 50, 7]
    _, targets = minibatch("cifar100-python", batch_size=4, seed=1, folder=folder, num_classes=100)
    assert sorted(targets.tolist()) == [0, 7, 50, 99]
    assert load_cifar_batches_py(folder, "test")[1].tolist() == [42]


def test_missing_batch_and_empty_folder(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    _make_cifar10(folder)
    (folder / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_cifar_batches_py(folder, "train")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="data_batch_1"):
        load_cifar_batches_py(empty)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"echo pwned > {self.marker}",))


def test_malicious_pickle_is_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    _make_cifar10(folder)
    marker = tmp_path / "pwned.txt"
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": _Evil(marker), b"labels": [1]}, f)
    with pytest.raises(UnsafePickleError) as err:
        load_cifar_batches_py(folder, "test")
    assert "system" in str(err.value) and "test_batch" in str(err.value)
    assert not marker.exists()
    # anything beyond the numpy array globals is refused, even harmless ones
    with pytest.raises(UnsafePickleError, match="collections.OrderedDict"):
        from collections import OrderedDict

        restricted_loads(pickle.dumps(OrderedDict(a=1)), NUMPY_ARRAY_GLOBALS)
    # arrays written by numpy itself (protocol 2 and 5) rebuild fine
    for protocol in (2, 5):
        arr = np.arange(6, dtype=np.int16).reshape(2, 3)
        got = restricted_loads(pickle.dumps({"a": arr}, protocol=protocol), NUMPY_ARRAY_GLOBALS)
        assert np.array_equal(got["a"], arr) and got["a"].dtype == np.int16
