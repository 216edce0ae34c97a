"""DataBundle: train/val/test splits plus the facts a trainer needs; `load_data`.

Data that fits stays one uint8 tensor per split on the device (TensorSplit); ImageFolder
trees that do not fit stream from disk (StreamSplit). Both split the same way, by seed.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from sharesnet.data.errors import ImageSizeError, NotInMemory
from sharesnet.data.sources import DEFAULT_MAX_BYTES, decode
from sharesnet.data.split import Split, TensorSplit
from sharesnet.data.splits import random_subset, split_indices

STREAM_IMAGE_SIZE = 224  # crop side for streamed ImageFolder trees (the ImageNet standard)
STATS_SAMPLE = 512  # streamed trees: mean/std from this many seeded train images, not all


@dataclass(frozen=True)
class DataBundle:
    name: str  # dataset name, e.g. "cifar10"
    train: Split  # training images, val removed
    val: Split  # stratified val_fraction of the original training data
    test: Split  # the dataset's held-out test split (digits: fixed 20%)
    num_classes: int
    in_channels: int
    image_size: tuple[int, int]  # (H, W)
    mean: tuple[float, ...]  # per channel, 0..1 scale, on the train split (streamed: a seeded sample)
    std: tuple[float, ...]
    split_seed: int
    val_fraction: float
    augment: dict[str, Any] = field(default_factory=dict)  # crop_padding, flip, cutout defaults
    classes: tuple[str, ...] = ()
    from_cache: bool = False  # imagefolder: every split came from the on-disk decode cache
    limit: int | None = None  # train and val capped at this many images each (None = all)
    test_limit: int | None = None  # test capped at this many images, smoke runs only (None = all)

    def info(self) -> dict[str, Any]:
        """Plain facts for result files and checkpoints."""
        return {"name": self.name, "train": len(self.train), "val": len(self.val),
                "test": len(self.test), "num_classes": self.num_classes,
                "in_channels": self.in_channels, "image_size": list(self.image_size),
                "split_seed": self.split_seed, "val_fraction": self.val_fraction,
                "limit": self.limit, "test_limit": self.test_limit, "loader": self.train.kind}

    def to(self, device: str | torch.device) -> "DataBundle":
        """The same bundle with every tensor on `device` (a no-op for streamed splits)."""
        return dataclasses.replace(self, train=self.train.to(device), val=self.val.to(device),
                                   test=self.test.to(device))


def load_data(name: str, data_dir: str | Path | None = None, val_fraction: float = 0.1,
              split_seed: int = 0, device: str | torch.device = "cpu", limit: int | None = None,
              *, test_limit: int | None = None, max_bytes: int = DEFAULT_MAX_BYTES, download: bool = True,
              image_size: int | None = None, num_workers: int | None = None) -> DataBundle:
    """Decode `name`, carve a stratified validation split, compute train mean/std.

    `limit` caps train and val at that many images each (searches, smoke runs). The test
    split is capped only by `test_limit`, which is for smoke runs: a capped test split is
    not the dataset's test accuracy.
    An imagefolder tree that does not fit in memory (mixed sizes, or > max_bytes) streams
    from disk instead, as square crops of side `image_size` (None: STREAM_IMAGE_SIZE), with
    `num_workers` DataLoader workers (None: min(8, CPUs)). In memory, images keep their
    size: `image_size`, if given, must be it (ImageSizeError otherwise), never a resize.
    """
    try:
        raw = decode(name, data_dir, max_bytes=max_bytes, download=download)
    except NotInMemory:
        return _stream(Path(data_dir), val_fraction, split_seed, (limit, test_limit), image_size, num_workers)
    _check_side(name, data_dir, raw.train_images, image_size)
    train_idx, val_idx, test_idx = split_indices(raw.train_labels, len(raw.test_labels), val_fraction,
                                                 split_seed, limit, test_limit)
    train = TensorSplit(raw.train_images[train_idx], raw.train_labels[train_idx])
    val = TensorSplit(raw.train_images[val_idx], raw.train_labels[val_idx])
    test = TensorSplit(raw.test_images[test_idx], raw.test_labels[test_idx])
    classes, from_cache = raw.classes, raw.from_cache
    augment = {"crop_padding": raw.crop_padding, "flip": raw.flip, "cutout": 0}
    del raw  # free the decoded copy before the statistics pass: peak stays near 2x the data
    mean, std = channel_stats(train.images)
    bundle = DataBundle(
        name=name, train=train, val=val, test=test, num_classes=len(classes),
        in_channels=train.images.shape[1], image_size=tuple(train.images.shape[2:]), mean=mean,
        std=std, split_seed=split_seed, val_fraction=val_fraction, augment=augment, classes=classes,
        from_cache=from_cache, limit=limit, test_limit=test_limit)
    return bundle.to(device)


def channel_stats(images: torch.Tensor, chunk: int = 1024) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std on the 0..1 scale, summed in small float64 chunks."""
    c = images.shape[1]
    total = torch.zeros(c, dtype=torch.float64)
    sq = torch.zeros(c, dtype=torch.float64)
    for part in images.split(chunk):
        x = part.to(torch.float64).div_(255.0).transpose(0, 1).reshape(c, -1)
        total += x.sum(1).cpu()
        sq += (x * x).sum(1).cpu()
    n = images.numel() // c
    mean = total / n
    std = (sq / n - mean * mean).clamp_min(1e-12).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())


def _stream(root: Path, val_fraction: float, split_seed: int, limits: tuple[int | None, int | None],
            image_size: int, num_workers: int | None) -> DataBundle:
    """The same seeded splits as the in-memory path, as file lists decoded per batch."""
    image_size = image_size or STREAM_IMAGE_SIZE
    from sharesnet.data.imagefolder import list_imagefolder, shape_of
    from sharesnet.data.stream import StreamSplit, default_workers

    classes, train_list, test_list = list_imagefolder(root)
    channels = shape_of(train_list.files[0])[0]
    mode = "L" if channels == 1 else "RGB"
    workers = default_workers() if num_workers is None else num_workers
    full, test = (StreamSplit(lst.files, torch.tensor(lst.labels, dtype=torch.long), image_size, mode,
                              workers) for lst in (train_list, test_list))
    train_idx, val_idx, test_idx = split_indices(full.labels, len(test), val_fraction, split_seed, *limits)
    train = full.subset(train_idx)
    sample = train.subset(random_subset(torch.arange(len(train)), STATS_SAMPLE, split_seed))
    mean, std = channel_stats(_pixels(sample, channels))
    return DataBundle(
        name="imagefolder", train=train, val=full.subset(val_idx), test=test.subset(test_idx),
        num_classes=len(classes), in_channels=channels, image_size=(image_size, image_size),
        mean=mean, std=std, split_seed=split_seed, val_fraction=val_fraction,
        augment={"crop_padding": 0, "flip": True, "cutout": 0}, classes=classes, limit=limits[0],
        test_limit=limits[1])


def _pixels(split: Split, channels: int) -> torch.Tensor:
    """The split as the eval transform crops it, on the 0..255 scale (for statistics only)."""
    mean, std = (0.0,) * channels, (1 / 255,) * channels  # identity: the uint8 values as floats
    return torch.cat([x for x, _ in split.iterate(256, mean=mean, std=std)])


def _check_side(name: str, data_dir: str | Path | None, images: torch.Tensor, image_size: int | None) -> None:
    """In memory the model sees the images as they are; another image_size would cost the wrong size."""
    h, w = images.shape[-2:]
    if image_size is None or (h, w) == (image_size, image_size):
        return
    where = f"the images in {Path(data_dir) / 'train'}" if name == "imagefolder" else f"the {name} images"
    problem = f"{where} are {h}x{w} but image_size is {image_size}"
    fix = (f"image_size={h} or " if h == w else "image_size=") + "None (the images' own size)"
    raise ImageSizeError(f"{name}: {problem}; the in-memory loader does not resize: pass {fix}",
                         problem, h if h == w else None)
