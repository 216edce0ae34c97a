"""Decode a dataset by name into uint8 NCHW image tensors and int64 labels.

- digits: scikit-learn's bundled 8x8 digits (1,797 images, values 0..16 scaled to
  0..255). It has no official test split, so a fixed stratified 20% is carved off
  with seed 0, independent of the validation split's seed: the test set never moves.
- cifar10 / cifar100: torchvision's python-version archives under the data dir.
- imagefolder: ROOT/train/<class>/*, ROOT/test/ (or ROOT/val/); see imagefolder.py.
"""
from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

import torch

from sharesnet.data.decoded import Decoded
from sharesnet.data.errors import DataError
from sharesnet.data.imagefolder import decode_imagefolder
from sharesnet.data.splits import stratified_split
from sharesnet.hints import maybe_did_you_mean

DIGITS_TEST_FRACTION = 0.2
DIGITS_TEST_SEED = 0  # fixed: the digits test split does not follow split_seed
DEFAULT_MAX_BYTES = 8 << 30
NAMES = ("digits", "cifar10", "cifar100", "imagefolder")


def decode(name: str, data_dir: str | Path | None, max_bytes: int = DEFAULT_MAX_BYTES,
           download: bool = True) -> Decoded:
    """Decode dataset `name`; raise DataError with the path and the fix when it cannot."""
    if name == "digits":
        return _digits()
    if name in ("cifar10", "cifar100"):
        return _cifar(name, _data_root(data_dir), download)
    if name == "imagefolder":
        if data_dir is None:
            raise DataError("imagefolder: pass data_dir=ROOT, a folder with ROOT/train/<class>/*.png|jpg "
                            "and ROOT/test/<class>/* (or ROOT/val/<class>/*)")
        return decode_imagefolder(Path(data_dir), max_bytes)
    raise DataError(f"unknown dataset '{name}'{maybe_did_you_mean(name, NAMES)} (known: {', '.join(NAMES)})")


def _data_root(data_dir: str | Path | None) -> Path:
    return Path(data_dir or os.environ.get("SHARESNET_DATA_DIR", "data")).expanduser()


def _digits() -> Decoded:
    from sklearn.datasets import load_digits

    d = load_digits()
    # 0..16 -> 0..255: uint8 like every other source, so normalisation is uniform.
    images = torch.from_numpy(d.images * (255.0 / 16.0)).round().to(torch.uint8).unsqueeze(1)
    labels = torch.from_numpy(d.target).long()
    train_idx, test_idx = stratified_split(labels, DIGITS_TEST_FRACTION, DIGITS_TEST_SEED)
    classes = tuple(str(c) for c in range(10))
    # Digits are not mirror-symmetric (a flipped 2 is no digit); 1-pixel shifts only.
    return Decoded(images[train_idx], labels[train_idx], images[test_idx], labels[test_idx],
                   classes, flip=False, crop_padding=1)


def _cifar(name: str, root: Path, download: bool) -> Decoded:
    from torchvision import datasets

    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    splits = [_cifar_split(cls, root, train, download) for train in (True, False)]
    train, test = splits
    # He et al. 2016, Sec. 4.2: 4-pixel padding, random 32x32 crops, horizontal flips.
    return Decoded(*_cifar_tensors(train), *_cifar_tensors(test), tuple(train.classes),
                   flip=True, crop_padding=4)


def _cifar_split(cls, root: Path, train: bool, download: bool):
    try:
        return cls(str(root), train=train, download=False)
    except RuntimeError:
        pass  # files absent or corrupt: try a download if allowed
    if download:
        try:
            with _socket_timeout(20), contextlib.redirect_stdout(None):
                return cls(str(root), train=train, download=True)
        except Exception as e:  # offline: URLError, timeouts, partial files
            reason = f" (download failed: {type(e).__name__}: {e})"
    else:
        reason = " (download disabled)"
    raise DataError(
        f"{cls.__name__} not found in data dir '{root.resolve()}'{reason}. Fix: put the python-version "
        f"archive ({cls.filename}, from {cls.url}) or its extracted '{cls.base_folder}/' in that folder, "
        f"or pass --data-dir / data_dir= pointing at a folder that has it, or use the 'imagefolder' "
        f"dataset on a ROOT/train/<class>/*.png tree.")


def _cifar_tensors(ds) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # NHWC -> NCHW
    return images, torch.tensor(ds.targets, dtype=torch.long)


@contextlib.contextmanager
def _socket_timeout(seconds: float):
    """Bound every network call, so an offline machine fails in seconds, not minutes."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)
