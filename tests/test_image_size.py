"""Image folders of any size: the search trains and costs at the images' side, or says which to set."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from nas.search.candidate import costs
from nas.space.config import DataConfig
from nas.space.datacheck import check_data
from nas.space.parse import parse_space
from nas.space.problems import SpaceError
from sharesnet import build_model
from sharesnet.data import DataError, load_data
from sharesnet.data.errors import ImageSizeError

pytestmark = pytest.mark.usefixtures("one_thread")


def write_folder(root, sides=(64,), mode="RGB", n_per_class=6):
    """3 classes x n PNGs in train/ and 2 per class in test/; image i has side sides[i % len(sides)]."""
    rng = np.random.default_rng(0)
    for split, n in (("train", n_per_class), ("test", 2)):
        for c in range(3):
            (root / split / f"c{c}").mkdir(parents=True)
            for i in range(n):
                side = sides[i % len(sides)]
                img = rng.integers(0, 255, (side, side) if mode == "L" else (side, side, 3), dtype=np.uint8)
                Image.fromarray(img, mode).save(root / split / f"c{c}" / f"{i}.png")
    return root


def space_for(root, image_size="absent", source="space.yaml"):
    data = {"dataset": "imagefolder", "data_dir": str(root), "val_fraction": 0.2}
    if image_size != "absent":
        data["image_size"] = image_size
    return parse_space({"name": "t", "data": data, "base": {"preset": "cifar_resnet20"},
                        "vary": {"depth": [1, 2]}, "trials": 1}, source)


@pytest.mark.parametrize("image_size", ["absent", None, 64])
def test_64px_folder_resolves_to_64_and_is_costed_there(tmp_path, image_size):
    root = write_folder(tmp_path / "ds", sides=(64,))
    lines = []
    space = check_data(space_for(root, image_size), lines.append)
    assert space.data.image_size == 64 and space.data.input_size == (3, 64, 64)
    assert lines == ["[search] data: imagefolder, 15 train / 3 validation images, 3x64x64 in memory "
                     "(split seed 0); the test split is not used by the search"]
    params, flops64 = costs(space.base, space.data.input_size)
    _, flops32 = costs(space.base, (3, 32, 32))
    assert 3.9 < flops64 / flops32 < 4.01  # convs scale with the pixels; the classifier does not
    out = build_model(space.base).eval()(torch.zeros(2, *space.data.input_size))
    assert out.shape == (2, 3)  # the CIFAR stem pools adaptively: any side trains


def test_mixed_sizes_stream_at_the_given_side(tmp_path):
    root = write_folder(tmp_path / "ds", sides=(40, 48, 56))
    lines = []
    space = check_data(space_for(root, 48), lines.append)
    assert space.data.input_size == (3, 48, 48)
    assert "streamed as 3x48x48 crops" in lines[0]
    data = load_data(**space.data.load_kwargs(), num_workers=0)
    x, _ = next(data.train.iterate(4, mean=data.mean, std=data.std))
    assert x.shape == (4, 3, 48, 48)


def test_explicit_size_that_differs_from_the_images_names_the_key_and_the_size(tmp_path):
    root = write_folder(tmp_path / "ds", sides=(32,))
    with pytest.raises(SpaceError) as err:
        check_data(space_for(root, 64), print)
    assert str(err.value) == (f"space.yaml: data.image_size: the images in {root / 'train'} are 32x32 but "
                              f"image_size is 64; set data.image_size: 32 (or null to use the images' size)")


def test_mixed_sizes_without_image_size_ask_for_a_crop_side(tmp_path):
    root = write_folder(tmp_path / "ds", sides=(40, 48, 56))
    with pytest.raises(SpaceError) as err:
        check_data(space_for(root), print)
    msg = str(err.value)
    assert msg.startswith(f"space.yaml: data.image_size: the images in {root / 'train'} have different sizes")
    assert "stream from disk" in msg and msg.endswith("set data.image_size, e.g. data.image_size: 48 "
                                                      "(the median shorter side)")


def test_load_data_refuses_a_side_it_would_not_train_at_and_keeps_the_cache(tmp_path):
    root = write_folder(tmp_path / "ds", sides=(32,))
    with pytest.raises(ImageSizeError, match=r"are 32x32 but image_size is 64.*pass image_size=32") as err:
        load_data("imagefolder", data_dir=root, image_size=64)
    assert isinstance(err.value, DataError) and err.value.side == 32
    assert load_data("imagefolder", data_dir=root).from_cache  # the failed call still built the cache
    assert load_data("imagefolder", data_dir=root, image_size=32).image_size == (32, 32)
    with pytest.raises(ImageSizeError, match="the cifar10 images|the digits images"):
        load_data("digits", image_size=32)


def test_input_size_per_dataset_and_unresolved_imagefolder_raises(tmp_path):
    assert DataConfig("digits").input_size == (1, 8, 8)
    assert DataConfig("cifar100").input_size == (3, 32, 32)
    assert DataConfig("digits", image_size=32).input_size == (1, 8, 8)  # result files from before this fix
    root = write_folder(tmp_path / "gray", sides=(16,), mode="L")
    with pytest.raises(SpaceError, match="data.image_size is null.*check_data"):
        DataConfig("imagefolder", str(root)).input_size
    space = check_data(space_for(root), print)
    assert space.data.input_size == (1, 16, 16) and space.base.in_channels == 1  # grayscale: one channel


def test_fixed_datasets_take_their_own_side():
    assert space_for_dataset("digits").data.image_size == 8
    assert space_for_dataset("cifar10", 32).data.image_size == 32
    with pytest.raises(SpaceError, match="data.image_size: cifar10 images are 32x32; leave image_size out"):
        space_for_dataset("cifar10", 64)


def space_for_dataset(dataset, image_size=None):
    raw = {"data": {"dataset": dataset, "image_size": image_size}, "base": {"preset": "cifar_resnet20"}}
    return parse_space(raw, "space.yaml")


def test_relative_data_dir_becomes_absolute_for_trials(tmp_path, monkeypatch):
    write_folder(tmp_path / "ds", sides=(8,))
    monkeypatch.chdir(tmp_path)
    space = check_data(space_for("ds"), print)
    assert space.data.data_dir == str(tmp_path / "ds") and space.data.input_size == (3, 8, 8)


def test_channel_override_that_contradicts_the_folder_fails_before_any_trial(tmp_path):
    root = write_folder(tmp_path / "gray", sides=(8,), mode="L")
    raw = {"data": {"dataset": "imagefolder", "data_dir": str(root)},
           "base": {"preset": "cifar_resnet20", "overrides": {"in_channels": 3}}}
    with pytest.raises(SpaceError, match="base: the model takes 3 channels and 3 classes but the imagefolder "
                                         "data has 1 and 3; drop in_channels/num_classes from base.overrides"):
        check_data(parse_space(raw, "space.yaml"), print)
