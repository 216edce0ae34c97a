"""StreamSplit: image files decoded per batch by a torchvision-style DataLoader pipeline.

The fallback for ImageFolder trees the in-memory path cannot hold (mixed image sizes, or
more than max_bytes). Training: RandomResizedCrop + RandomHorizontalFlip per sample;
evaluation: Resize(1.14 x size) + CenterCrop (the 256/224 ratio of the ImageNet recipe).
Workers ship uint8 tensors and the batch is normalised on the training device: a quarter
of the host-to-device bytes of float ToTensor + Normalize, with the same arithmetic.

Reproducibility: an epoch draws one seed from the caller's generator; that seed fixes the
order and one seed per sample, and each sample's transform runs under its own seed. So an
epoch is a pure function of (generator state, i.e. recipe seed and epoch), whatever the
number of workers, and a resumed run replays it exactly.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from sharesnet.data.augment import Augment, Normalise, num_batches
from sharesnet.data.split import Batch

RESIZE_RATIO = 1.14  # eval resize side / crop side: 256 / 224 (Krizhevsky et al.; torchvision refs)
SEED_HIGH = 2**62


def default_workers() -> int:
    return min(8, os.cpu_count() or 1)


@dataclass(frozen=True)
class StreamSplit:
    files: tuple[Path, ...]  # one image per sample
    labels: torch.Tensor  # int64, N, on the CPU
    image_size: int  # side of the square crops fed to the model
    mode: str  # PIL mode every image is converted to: "RGB" or "L"
    num_workers: int = 0  # DataLoader worker processes (0: decode in the calling process)
    kind = "stream"
    _loaders: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.files)

    def __getstate__(self) -> dict:
        """Pickles without the live loaders (worker processes do not travel)."""
        return {k: v for k, v in self.__dict__.items() if k != "_loaders"} | {"_loaders": {}}

    def to(self, device: str | torch.device) -> "StreamSplit":
        """No-op: files stay on disk; each batch moves to the device as it is made."""
        return self

    def cat(self, other: "StreamSplit") -> "StreamSplit":
        """Both splits in one (train+val for final retraining): the file lists concatenated."""
        return StreamSplit(self.files + other.files, torch.cat([self.labels, other.labels]),
                           self.image_size, self.mode, self.num_workers)

    def subset(self, idx: torch.Tensor) -> "StreamSplit":
        return StreamSplit(tuple(self.files[i] for i in idx.tolist()), self.labels[idx],
                           self.image_size, self.mode, self.num_workers)

    def iterate(self, batch_size: int, *, mean: tuple[float, ...], std: tuple[float, ...],
                generator: torch.Generator | None = None, augment: Augment | Mapping | None = None,
                drop_last: bool = False, channels_last: bool = False,
                device: str | torch.device | None = None) -> Iterator[Batch]:
        """One pass as normalised batches on `device`; crop_padding does not apply here."""
        aug = augment if isinstance(augment, Augment) else Augment.from_mapping(augment)
        dev = torch.device(device or "cpu")
        train = generator is not None
        if not len(self):
            return
        seed = int(torch.randint(SEED_HIGH, (1,), generator=generator, device=generator.device)) if train else 0
        loader = self._loader(batch_size, train, aug.flip and train, drop_last and len(self) >= batch_size, dev)
        loader.batch_sampler.sampler.epoch_seed = seed  # read in this process when iteration starts
        norm = Normalise(mean, std, dev, channels_last)
        cut_gen = torch.Generator(device=dev).manual_seed(seed) if aug.cutout > 0 and train else None
        for x, y in loader:
            x = x.to(dev, non_blocking=True)
            yield norm(x, aug.cutout if train else 0, cut_gen), y.to(dev, non_blocking=True)

    def _loader(self, batch_size: int, train: bool, flip: bool, drop_last: bool, dev: torch.device) -> DataLoader:
        """Built once per configuration, so persistent workers outlive an epoch."""
        pin = dev.type == "cuda"
        key = (batch_size, train, flip, drop_last, pin)
        if key not in self._loaders:
            samples = _Samples(self.files, tuple(self.labels.tolist()), self.mode,
                               transform(self.image_size, train, flip))
            self._loaders[key] = DataLoader(
                samples, batch_size=batch_size, sampler=_SeededSampler(len(self), train),
                drop_last=drop_last, num_workers=self.num_workers, pin_memory=pin,
                persistent_workers=self.num_workers > 0)
        loader = self._loaders[key]
        assert len(loader) == num_batches(len(self), batch_size, drop_last)
        return loader


def transform(size: int, train: bool, flip: bool):
    """Per-sample PIL -> uint8 CHW tensor: random-resized crops for training, centre crops else."""
    from torchvision import transforms as T

    if train:
        steps = [T.RandomResizedCrop(size)] + ([T.RandomHorizontalFlip()] if flip else [])
    else:
        steps = [T.Resize(int(size * RESIZE_RATIO)), T.CenterCrop(size)]
    return T.Compose(steps + [T.PILToTensor()])


class _SeededSampler(Sampler):
    """Yields (index, sample seed): shuffled by `epoch_seed` when training, in order otherwise."""

    def __init__(self, n: int, shuffle: bool):
        self.n, self.shuffle, self.epoch_seed = n, shuffle, 0

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[tuple[int, int]]:
        gen = torch.Generator().manual_seed(self.epoch_seed)
        order = torch.randperm(self.n, generator=gen) if self.shuffle else torch.arange(self.n)
        seeds = torch.randint(SEED_HIGH, (self.n,), generator=gen)
        return zip(order.tolist(), seeds.tolist())


class _Samples(Dataset):
    """One decoded, transformed image per (index, seed); the seed makes its randomness fixed."""

    def __init__(self, files: tuple[Path, ...], labels: tuple[int, ...], mode: str, tf):
        self.files, self.labels, self.mode, self.tf = files, labels, mode, tf

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, item: tuple[int, int]) -> tuple[torch.Tensor, int]:
        from PIL import Image

        index, seed = item
        with Image.open(self.files[index]) as im:
            img = im.convert(self.mode)
        # torchvision transforms draw from the global RNG; fork it so that, with no workers,
        # the trainer's own RNG stream (saved in checkpoints) is left untouched.
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)  # CPU only: a forked worker never touches CUDA
            return self.tf(img), self.labels[index]
