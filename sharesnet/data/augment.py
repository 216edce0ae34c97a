"""On-device batch iterator: shuffle, augment whole batches, normalise. No per-sample Python.

The uint8 dataset lives on the training device; each batch is sliced from it by a
seeded permutation, then cropped, flipped and cut out with vectorised index tricks.
All randomness comes from one torch.Generator, so saving its state resumes exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Mapping

import torch
import torch.nn.functional as F

if TYPE_CHECKING:  # a type only: split.py imports this module
    from sharesnet.data.split import TensorSplit


@dataclass(frozen=True)
class Augment:
    crop_padding: int = 0  # zero-pad then random-crop back (He et al. 2016: 4 px at 32x32)
    flip: bool = False  # random horizontal flip with p = 0.5
    cutout: int = 0  # side of a random zeroed square after normalising (DeVries & Taylor 2017); 0 = off

    @classmethod
    def from_mapping(cls, m: Mapping | None) -> "Augment":
        return cls(**{k: v for k, v in (m or {}).items() if v is not None})


def num_batches(n: int, batch_size: int, drop_last: bool) -> int:
    """Batches per pass; drop_last never drops everything (a split smaller than a batch)."""
    if drop_last and n >= batch_size:
        return n // batch_size
    return -(-n // batch_size)


def batches(split: TensorSplit, batch_size: int, *, mean: tuple[float, ...], std: tuple[float, ...],
            generator: torch.Generator | None = None, augment: Augment | Mapping | None = None,
            drop_last: bool = False, channels_last: bool = False
            ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One pass over `split` as normalised float batches; shuffled iff a generator is given.

    Training: pass a generator (its device must be the data's) and an Augment.
    Evaluation: pass neither; order is fixed and nothing is augmented.
    """
    aug = augment if isinstance(augment, Augment) else Augment.from_mapping(augment)
    if generator is None and aug != Augment():
        raise ValueError("batches: augmentation needs a generator (for reproducible randomness)")
    dev = split.images.device
    n = len(split)
    order = torch.randperm(n, generator=generator, device=dev) if generator is not None else None
    norm = Normalise(mean, std, dev, channels_last)
    for b in range(num_batches(n, batch_size, drop_last)):
        sl = slice(b * batch_size, (b + 1) * batch_size)
        idx = order[sl] if order is not None else None
        x = split.images[idx] if idx is not None else split.images[sl]
        y = split.labels[idx] if idx is not None else split.labels[sl]
        x = _augment_uint8(x, aug, generator) if generator is not None else x
        yield norm(x, aug.cutout, generator), y


class Normalise:
    """uint8 batch -> normalised float batch on its device, then cutout and memory format."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...], device: torch.device,
                 channels_last: bool):
        shape = (1, -1, 1, 1)
        # Folding /255 into the constants: one subtract and one multiply per pixel.
        self.shift = torch.tensor(mean, device=device).view(shape) * 255.0
        self.scale = 1.0 / (torch.tensor(std, device=device).view(shape) * 255.0)
        self.channels_last = channels_last

    def __call__(self, x: torch.Tensor, cutout_size: int = 0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        x = (x.float() - self.shift) * self.scale
        if cutout_size > 0:
            x = cutout(x, cutout_size, generator)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x


def _augment_uint8(x: torch.Tensor, aug: Augment, gen: torch.Generator) -> torch.Tensor:
    if aug.crop_padding > 0:
        x = random_crop(x, aug.crop_padding, gen)
    if aug.flip:
        x = random_flip(x, gen)
    return x


def random_crop(x: torch.Tensor, padding: int, gen: torch.Generator) -> torch.Tensor:
    """Zero-pad by `padding` and crop back at per-sample random offsets, in one gather."""
    n, c, h, w = x.shape
    dev = x.device
    padded = F.pad(x, (padding,) * 4)
    dy, dx = torch.randint(0, 2 * padding + 1, (2, n), generator=gen, device=dev)
    rows = (dy[:, None] + torch.arange(h, device=dev))[:, None, :, None]  # N,1,H,1
    cols = (dx[:, None] + torch.arange(w, device=dev))[:, None, None, :]  # N,1,1,W
    ns = torch.arange(n, device=dev)[:, None, None, None]
    cs = torch.arange(c, device=dev)[None, :, None, None]
    return padded[ns, cs, rows, cols]


def random_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror each sample left-right with probability 1/2."""
    mask = torch.rand(len(x), generator=gen, device=x.device) < 0.5
    return torch.where(mask[:, None, None, None], x.flip(3), x)


def cutout(x: torch.Tensor, size: int, gen: torch.Generator) -> torch.Tensor:
    """Zero one size x size square per sample; centres uniform, squares clipped at borders."""
    n, _, h, w = x.shape
    dev = x.device
    cy = torch.randint(0, h, (n, 1, 1), generator=gen, device=dev)
    cx = torch.randint(0, w, (n, 1, 1), generator=gen, device=dev)
    ys = torch.arange(h, device=dev)[None, :, None]
    xs = torch.arange(w, device=dev)[None, None, :]
    dy, dx = ys - cy + size // 2, xs - cx + size // 2  # offsets inside the square: 0..size-1
    inside = (dy >= 0) & (dy < size) & (dx >= 0) & (dx < size)
    return x * (~inside)[:, None].to(x.dtype)
