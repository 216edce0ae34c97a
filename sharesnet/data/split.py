"""Split: the one interface a trainer iterates, and TensorSplit, its in-memory implementation.

A trainer never asks which kind of split it holds: it calls `iterate` for normalised
float batches on its device, `cat` for train+val, `to` to place the data, and `len`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping, Protocol

import torch

from sharesnet.data.augment import Augment, batches

Batch = tuple[torch.Tensor, torch.Tensor]  # (float N x C x H x W normalised, int64 N labels)


class Split(Protocol):
    kind: str  # "memory" (uint8 tensor on the device) or "stream" (files decoded per batch)

    def __len__(self) -> int: ...

    def to(self, device: str | torch.device) -> "Split": ...

    def cat(self, other: "Split") -> "Split": ...

    def iterate(self, batch_size: int, *, mean: tuple[float, ...], std: tuple[float, ...],
                generator: torch.Generator | None = None, augment: Augment | Mapping | None = None,
                drop_last: bool = False, channels_last: bool = False,
                device: str | torch.device | None = None) -> Iterator[Batch]:
        """One pass as normalised batches on `device`; shuffled and augmented iff `generator`."""
        ...


@dataclass(frozen=True)
class TensorSplit:
    images: torch.Tensor  # uint8, N x C x H x W
    labels: torch.Tensor  # int64, N
    kind = "memory"

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: str | torch.device) -> "TensorSplit":
        return TensorSplit(self.images.to(device), self.labels.to(device))

    def cat(self, other: "TensorSplit") -> "TensorSplit":
        """Both splits in one (train+val for final retraining)."""
        return TensorSplit(torch.cat([self.images, other.images]), torch.cat([self.labels, other.labels]))

    def iterate(self, batch_size: int, *, mean: tuple[float, ...], std: tuple[float, ...],
                generator: torch.Generator | None = None, augment: Augment | Mapping | None = None,
                drop_last: bool = False, channels_last: bool = False,
                device: str | torch.device | None = None) -> Iterator[Batch]:
        """`batches` over this split, moved to `device` first (a no-op where it already is)."""
        split = self.to(device) if device is not None else self
        return batches(split, batch_size, mean=mean, std=std, generator=generator, augment=augment,
                       drop_last=drop_last, channels_last=channels_last)
