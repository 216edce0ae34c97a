"""Streaming fallback: ImageFolder trees that do not fit in memory train from disk."""
from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from sharesnet import ArchSpec, StageSpec
from sharesnet.data import load_data, num_batches
from sharesnet.data.splits import stratified_split
from sharesnet.train import Recipe, train
from tests.test_data import write_imagefolder

SPEC = ArchSpec(stages=(StageSpec(1, 8, 1), StageSpec(1, 16, 2)), stem_width=8, num_classes=2, name="tiny")
RECIPE = Recipe(epochs=6, batch_size=8, lr=0.1, schedule="cosine", seed=0)
MEAN, STD = (0.5,) * 3, (0.25,) * 3

pytestmark = pytest.mark.usefixtures("one_thread")


def write_mixed(root, n_per_class=16):
    """Two colour-separable classes whose PNGs alternate between 10x10 and 12x12."""
    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        for c, name in enumerate(("blue", "red")):
            (root / split / name).mkdir(parents=True)
            for i in range(n_per_class):
                side = 10 + 2 * (i % 2)
                img = rng.integers(0, 90, (side, side, 3), dtype=np.uint8)
                img[..., 2 - 2 * c] += 160
                Image.fromarray(img).save(root / split / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    root = write_mixed(tmp_path_factory.mktemp("mixed"))
    return root, load_data("imagefolder", data_dir=root, val_fraction=0.25, image_size=8, num_workers=0)


def test_mixed_sizes_stream_with_the_seeded_stratified_split(mixed):
    root, data = mixed
    info = data.info()
    assert info["loader"] == "stream" and info["image_size"] == [8, 8]
    assert (len(data.train), len(data.val), len(data.test)) == (24, 8, 32)
    assert not set(data.train.files) & set(data.val.files)
    assert data.val.labels.bincount().tolist() == [4, 4]
    everything = sorted((root / "train").glob("*/*.png"))
    labels = torch.tensor([int(p.parent.name == "red") for p in everything])
    _, held = stratified_split(labels, 0.25, seed=0)  # the in-memory path's split, index for index
    assert list(data.val.files) == [everything[i] for i in held.tolist()]
    assert data.to("cpu").train is data.train  # streamed splits stay on disk


def test_epoch_is_a_function_of_the_generator_alone(mixed, tmp_path):
    _, data = mixed
    two_workers = dataclasses.replace(data.train, num_workers=2)

    def epoch(split, seed):
        it = split.iterate(8, mean=MEAN, std=STD, generator=torch.Generator().manual_seed(seed),
                           augment={"flip": True, "cutout": 2}, drop_last=True)
        return list(it)

    a, b, c = epoch(data.train, 0), epoch(two_workers, 0), epoch(data.train, 1)
    assert len(a) == num_batches(len(data.train), 8, drop_last=True) == 3
    assert a[0][0].shape == (8, 3, 8, 8) and a[0][0].dtype == torch.float32
    assert all(torch.equal(x, y) and torch.equal(u, v) for (x, u), (y, v) in zip(a, b))
    assert not torch.equal(a[0][0], c[0][0])
    assert pickle.loads(pickle.dumps(two_workers)).files == two_workers.files  # live workers stay behind


def test_streaming_trains_well_above_chance(mixed):
    _, data = mixed
    result = train(SPEC, RECIPE, data, evaluate_test=True)
    assert result.data["loader"] == "stream"
    assert result.val_acc_best >= 0.8 and result.test_acc >= 0.8  # chance is 0.5


def test_resume_replays_the_streamed_order(mixed, tmp_path):
    _, data = mixed
    recipe = dataclasses.replace(RECIPE, epochs=3)
    train(SPEC, recipe, data, checkpoint_dir=tmp_path / "full")
    train(SPEC, recipe, data, checkpoint_dir=tmp_path / "part", on_epoch=lambda e, m: e == 2)
    train(SPEC, recipe, data, checkpoint_dir=tmp_path / "part")
    full = torch.load(tmp_path / "full" / "last.pt", weights_only=True)
    part = torch.load(tmp_path / "part" / "last.pt", weights_only=True)
    assert all(torch.equal(t, part["model"][k]) for k, t in full["model"].items())


def test_tiny_max_bytes_streams_same_size_images_and_trains_on_train_plus_val(tmp_path):
    root = write_imagefolder(tmp_path / "ds", n_per_class=12)
    data = load_data("imagefolder", data_dir=root, val_fraction=0.25, max_bytes=100, image_size=8,
                     num_workers=0)
    assert data.info()["loader"] == "stream" and data.in_channels == 3
    assert load_data("imagefolder", data_dir=root, val_fraction=0.25).info()["loader"] == "memory"
    result = train(SPEC, RECIPE, data, train_on="train+val", evaluate_test=True)
    assert result.val_acc_best is None and result.test_acc >= 0.8
