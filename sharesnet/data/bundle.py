"""DataBundle: train/val/test uint8 tensors plus the facts a trainer needs; `load_data`."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from sharesnet.data.sources import DEFAULT_MAX_BYTES, decode
from sharesnet.data.splits import random_subset, stratified_split


@dataclass(frozen=True)
class TensorSplit:
    images: torch.Tensor  # uint8, N x C x H x W
    labels: torch.Tensor  # int64, N

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: str | torch.device) -> "TensorSplit":
        return TensorSplit(self.images.to(device), self.labels.to(device))

    def cat(self, other: "TensorSplit") -> "TensorSplit":
        """Both splits in one (train+val for final retraining)."""
        return TensorSplit(torch.cat([self.images, other.images]), torch.cat([self.labels, other.labels]))


@dataclass(frozen=True)
class DataBundle:
    name: str  # dataset name, e.g. "cifar10"
    train: TensorSplit  # training images, val removed
    val: TensorSplit  # stratified val_fraction of the original training data
    test: TensorSplit  # the dataset's held-out test split (digits: fixed 20%)
    num_classes: int
    in_channels: int
    image_size: tuple[int, int]  # (H, W)
    mean: tuple[float, ...]  # per channel, 0..1 scale, on the train split
    std: tuple[float, ...]
    split_seed: int
    val_fraction: float
    augment: dict[str, Any] = field(default_factory=dict)  # crop_padding, flip, cutout defaults
    classes: tuple[str, ...] = ()
    from_cache: bool = False  # imagefolder: every split came from the on-disk decode cache
    limit: int | None = None  # train images capped for smoke runs (None = all)

    def info(self) -> dict[str, Any]:
        """Plain facts for result files and checkpoints."""
        return {"name": self.name, "train": len(self.train), "val": len(self.val),
                "test": len(self.test), "num_classes": self.num_classes,
                "in_channels": self.in_channels, "image_size": list(self.image_size),
                "split_seed": self.split_seed, "val_fraction": self.val_fraction,
                "limit": self.limit}

    def to(self, device: str | torch.device) -> "DataBundle":
        """The same bundle with every tensor on `device` (augmentation runs there)."""
        return dataclasses.replace(self, train=self.train.to(device), val=self.val.to(device),
                                   test=self.test.to(device))


def load_data(name: str, data_dir: str | Path | None = None, val_fraction: float = 0.1,
              split_seed: int = 0, device: str | torch.device = "cpu", limit: int | None = None,
              *, max_bytes: int = DEFAULT_MAX_BYTES, download: bool = True) -> DataBundle:
    """Decode `name`, carve a stratified validation split, compute train mean/std.

    `limit` caps train, val and test at that many images each (smoke runs).
    """
    raw = decode(name, data_dir, max_bytes=max_bytes, download=download)
    train_idx, val_idx = stratified_split(raw.train_labels, val_fraction, split_seed)
    train_idx, val_idx = (random_subset(i, limit, split_seed) for i in (train_idx, val_idx))
    test_idx = random_subset(torch.arange(len(raw.test_labels)), limit, split_seed)
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
        from_cache=from_cache, limit=limit)
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
