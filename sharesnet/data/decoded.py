"""Decoded: a dataset as uint8 image tensors and labels, what every source (sources.py,
imagefolder.py) returns."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Decoded:
    train_images: torch.Tensor  # uint8 N x C x H x W
    train_labels: torch.Tensor  # int64 N
    test_images: torch.Tensor
    test_labels: torch.Tensor
    classes: tuple[str, ...]
    flip: bool  # default horizontal-flip augmentation: only for mirror-symmetric classes
    crop_padding: int  # default random-crop padding in pixels
    from_cache: bool = False  # True when every split came from the on-disk decode cache
