"""Data: splits, sources, the ImageFolder decode cache and batch augmentation."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from sharesnet.data import DataError, TensorSplit, batches, load_data
from sharesnet.data.augment import Augment, cutout, random_crop, random_flip
from sharesnet.data.errors import NotInMemory
from sharesnet.data.imagefolder import decode_imagefolder
from sharesnet.data.splits import stratified_split

pytestmark = pytest.mark.usefixtures("one_thread")


def write_imagefolder(root, n_per_class=20, side=8, splits=("train", "test")):
    """Two classes of noisy but separable colours: red-ish vs blue-ish PNGs."""
    rng = np.random.default_rng(0)
    for split in splits:
        for c, name in enumerate(("blue", "red")):
            (root / split / name).mkdir(parents=True)
            for i in range(n_per_class):
                img = rng.integers(0, 90, (side, side, 3), dtype=np.uint8)
                img[..., 2 - 2 * c] += 160  # class 0 lifts blue, class 1 lifts red
                Image.fromarray(img).save(root / split / name / f"{i}.png")
    return root


def test_digits_shapes_and_fixed_test_split():
    a = load_data("digits", split_seed=0)
    b = load_data("digits", split_seed=5)
    assert a.train.images.dtype == torch.uint8 and a.train.images.shape[1:] == (1, 8, 8)
    assert a.train.labels.dtype == torch.int64
    assert len(a.train) + len(a.val) + len(a.test) == 1797
    assert len(a.test) == pytest.approx(0.2 * 1797, abs=10)
    assert torch.equal(a.test.labels, b.test.labels)  # test split ignores split_seed
    assert not torch.equal(a.val.labels, b.val.labels) or not torch.equal(a.val.images, b.val.images)
    assert int(a.train.images.max()) == 255 and a.augment["flip"] is False
    assert 0 < a.mean[0] < 1 and 0 < a.std[0] < 1


def test_split_disjoint_stratified_deterministic():
    labels = torch.arange(1000) % 7
    keep, held = stratified_split(labels, 0.2, seed=3)
    assert len(set(keep.tolist()) & set(held.tolist())) == 0
    assert len(keep) + len(held) == 1000
    for c in range(7):
        share = (labels[held] == c).float().mean().item()
        assert share == pytest.approx((labels == c).float().mean().item(), abs=0.01)
    again, _ = stratified_split(labels, 0.2, seed=3)
    other, _ = stratified_split(labels, 0.2, seed=4)
    assert torch.equal(keep, again) and not torch.equal(keep, other)


def test_limit_caps_train_and_val_but_never_test():
    full = load_data("digits")
    d = load_data("digits", limit=100)
    assert len(d.train) == 100 and len(d.val) <= 100 and len(d.test) == len(full.test) > 100
    assert d.info()["limit"] == 100 and d.info()["test_limit"] is None
    smoke = load_data("digits", limit=100, test_limit=50)
    assert len(smoke.test) == 50 and smoke.info()["test_limit"] == 50


def test_imagefolder_loads_and_second_load_uses_cache(tmp_path):
    root = write_imagefolder(tmp_path / "ds")
    first = load_data("imagefolder", data_dir=root, val_fraction=0.25)
    second = load_data("imagefolder", data_dir=root, val_fraction=0.25)
    assert not first.from_cache and second.from_cache
    assert list((root / ".sharesnet-cache").glob("train-*.pt"))
    assert first.classes == ("blue", "red") and first.num_classes == 2 and first.in_channels == 3
    assert len(first.train) == 30 and len(first.val) == 10 and len(first.test) == 40
    assert torch.equal(first.train.images, second.train.images)
    assert torch.equal(first.test.labels, second.test.labels)


def test_imagefolder_cache_falls_back_to_user_cache(tmp_path, monkeypatch):
    root = write_imagefolder(tmp_path / "ds", n_per_class=3)
    (root / ".sharesnet-cache").write_text("a file, so no cache folder can be made here")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    assert not load_data("imagefolder", data_dir=root, val_fraction=0.0).from_cache
    assert list((tmp_path / "home-cache" / "sharesnet" / "imagefolder").glob("*/train-*.pt"))
    assert load_data("imagefolder", data_dir=root, val_fraction=0.0).from_cache


def test_imagefolder_cache_invalidated_by_new_file(tmp_path):
    root = write_imagefolder(tmp_path / "ds", n_per_class=4)
    load_data("imagefolder", data_dir=root, val_fraction=0.25)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "train" / "red" / "extra.png")
    again = load_data("imagefolder", data_dir=root, val_fraction=0.25)
    assert not again.from_cache and len(again.train) + len(again.val) == 9


def test_imagefolder_mixed_sizes_and_byte_limit_do_not_fit_in_memory(tmp_path):
    """The in-memory decoder refuses; load_data then streams (tests/test_streaming.py)."""
    root = write_imagefolder(tmp_path / "ds", n_per_class=2)
    with pytest.raises(NotInMemory, match="does not fit"):
        decode_imagefolder(root, max_bytes=100)
    Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(root / "train" / "red" / "odd.png")
    with pytest.raises(NotInMemory, match="different sizes.*streams it from disk"):
        decode_imagefolder(root, max_bytes=1 << 30)
    assert load_data("imagefolder", data_dir=root, num_workers=0).info()["loader"] == "stream"


def test_missing_dataset_dir_names_the_path(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError, match=str(missing)):
        load_data("imagefolder", data_dir=missing)
    (missing / "test").mkdir(parents=True)
    with pytest.raises(DataError, match=r"train.*expected ROOT/train/<class>"):
        load_data("imagefolder", data_dir=missing)


def test_cifar10_absent_offline_gives_data_error(tmp_path):
    with pytest.raises(DataError) as err:
        load_data("cifar10", data_dir=tmp_path)
    msg = str(err.value)
    assert str(tmp_path) in msg and "cifar-10-python.tar.gz" in msg and "imagefolder" in msg


def test_unknown_dataset_suggests_a_name():
    with pytest.raises(DataError, match="did you mean 'cifar10'"):
        load_data("cifar01")


def _split(n=64, side=8, c=3):
    g = torch.Generator().manual_seed(1)
    return TensorSplit(torch.randint(0, 256, (n, c, side, side), generator=g, dtype=torch.uint8),
                       torch.arange(n) % 10)


def test_train_batches_shapes_dtype_and_determinism():
    split = _split()
    aug = Augment(crop_padding=2, flip=True, cutout=3)
    kw = dict(mean=(0.5,) * 3, std=(0.25,) * 3, augment=aug, drop_last=True)
    run = lambda seed: list(batches(split, 24, generator=torch.Generator().manual_seed(seed), **kw))
    a, b, c = run(0), run(0), run(1)
    assert len(a) == 2 and a[0][0].shape == (24, 3, 8, 8) and a[0][0].dtype == torch.float32
    assert all(torch.equal(x, y) and torch.equal(u, v) for (x, u), (y, v) in zip(a, b))
    assert not torch.equal(a[0][0], c[0][0])


def test_eval_batches_are_plain_normalised_in_order():
    split = _split(n=10)
    (x, y), = list(batches(split, 16, mean=(0.5,) * 3, std=(0.25,) * 3))
    assert torch.equal(y, split.labels)
    assert torch.allclose(x, (split.images.float() / 255 - 0.5) / 0.25, atol=1e-5)
    with pytest.raises(ValueError, match="generator"):
        next(batches(split, 4, mean=(0.5,) * 3, std=(0.25,) * 3, augment=Augment(flip=True)))


def test_random_crop_is_a_shifted_window_of_the_padded_image():
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.uint8).view(2, 3, 6, 6)
    g = torch.Generator().manual_seed(0)
    out = random_crop(x, 2, g)
    dy, dx = torch.randint(0, 5, (2, 2), generator=torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):  # a per-sample loop here only to check the vectorised result
        assert torch.equal(out[i], padded[i, :, dy[i]:dy[i] + 6, dx[i]:dx[i] + 6])


def test_flip_and_cutout():
    x = torch.arange(64 * 4, dtype=torch.uint8).view(64, 1, 2, 2)
    flipped = random_flip(x, torch.Generator().manual_seed(0))
    same = (flipped == x).flatten(1).all(1)
    assert torch.equal(flipped[~same], x[~same].flip(3)) and 10 < int(same.sum()) < 54
    ones = torch.ones(8, 1, 10, 10)
    cut = cutout(ones, 4, torch.Generator().manual_seed(0))
    zeros = (cut == 0).flatten(1).sum(1)
    assert zeros.max() == 16 and zeros.min() >= 4  # full 4x4 squares, clipped ones at borders
