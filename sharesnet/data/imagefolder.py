"""ImageFolder trees decoded once into one uint8 tensor per split, cached on disk.

Layout: ROOT/train/<class>/*.{png,jpg,jpeg,bmp,webp} and ROOT/test/<class>/* (or
ROOT/val/<class>/*, used as the held-out test split; validation is always carved from
train). The decoded tensors are cached at ROOT/.sharesnet-cache/<split>-<key>.pt, where
the key hashes every file's relative path, size and mtime: editing a file re-decodes.
When ROOT is read-only the cache goes to ~/.cache/sharesnet/imagefolder/ instead.
Trees that do not fit (mixed image sizes, or more than max_bytes) raise NotInMemory, and
`load_data` streams them from disk instead (stream.py), from the same `list_imagefolder`.
`image_channels` and `size_sample` read image headers only: the search uses them to cost
models and to suggest a crop side without decoding the tree.
"""
from __future__ import annotations

import hashlib
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sharesnet.data.decoded import Decoded
from sharesnet.data.errors import DataError, NotInMemory
from sharesnet.files import replace_atomically

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}
CACHE_DIR = ".sharesnet-cache"
CACHE_VERSION = 1  # bump when the decoded format changes
SIZE_SAMPLE = 256  # headers read to describe a streamed tree: enough to see its sizes, fast on ImageNet
LAYOUT = "ROOT/train/<class>/*.png|jpg and ROOT/test/<class>/* (or ROOT/val/<class>/*)"
FALLBACK = ("load_data streams it from disk instead (ImageFolder-style file lists + DataLoader with "
            "per-sample transforms); resize the images to one size, or raise max_bytes, to keep "
            "it in memory")


@dataclass(frozen=True)
class Listing:
    files: tuple[Path, ...]
    labels: tuple[int, ...]


def decode_imagefolder(root: Path, max_bytes: int) -> Decoded:
    """Decode (or read from cache) the train and test splits of an ImageFolder tree."""
    classes, train, test = list_imagefolder(root)
    _check_size(train, test, max_bytes)
    (tr_x, tr_y, hit_train), (te_x, te_y, hit_test) = (
        _cached_decode(root, split, lst) for split, lst in (("train", train), ("test", test)))
    if len(te_x) == 0:
        te_x = tr_x[:0]
    elif te_x.shape[1:] != tr_x.shape[1:]:
        raise NotInMemory(f"imagefolder: test images are {tuple(te_x.shape[1:])}, train images "
                          f"{tuple(tr_x.shape[1:])}; the in-memory loader does not fit; {FALLBACK}")
    return Decoded(tr_x, tr_y, te_x, te_y, classes, flip=True, crop_padding=_default_padding(tr_x),
                   from_cache=hit_train and hit_test)


def list_imagefolder(root: Path) -> tuple[tuple[str, ...], Listing, Listing]:
    """(classes, train files, test files) of the tree; test is empty without test/ or val/."""
    train_dir = root / "train"
    if not root.is_dir():
        raise DataError(f"imagefolder: dataset dir '{root}' does not exist; expected {LAYOUT}")
    if not train_dir.is_dir():
        raise DataError(f"imagefolder: no train split at '{train_dir}'; expected {LAYOUT}")
    classes = tuple(sorted(p.name for p in train_dir.iterdir() if p.is_dir()))
    if not classes:
        raise DataError(f"imagefolder: '{train_dir}' has no class folders; expected {LAYOUT}")
    train = _listing(train_dir, classes)
    test_dir = next((root / s for s in ("test", "val") if (root / s).is_dir()), None)
    test = _listing(test_dir, classes) if test_dir else Listing((), ())
    return classes, train, test


def _listing(split_dir: Path, classes: tuple[str, ...]) -> Listing:
    files, labels = [], []
    for sub in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        if sub.name not in classes:
            raise DataError(f"imagefolder: class folder '{sub}' has no counterpart in the train split")
        found = sorted(p for p in sub.iterdir() if p.suffix.lower() in EXTENSIONS)
        files += found
        labels += [classes.index(sub.name)] * len(found)
    if split_dir.name == "train" and not files:
        raise DataError(f"imagefolder: no images under '{split_dir}'; expected {LAYOUT}")
    return Listing(tuple(files), tuple(labels))


def _check_size(train: Listing, test: Listing, max_bytes: int) -> None:
    """Refuse before decoding when the in-memory tensors would exceed max_bytes."""
    c, h, w = shape_of(train.files[0])
    need = (len(train.files) + len(test.files)) * c * h * w
    if need > max_bytes:
        raise NotInMemory(f"imagefolder: the in-memory loader does not fit: {need / 2**30:.1f} GiB of "
                        f"uint8 pixels > max_bytes {max_bytes / 2**30:.1f} GiB; {FALLBACK}")


def shape_of(path: Path) -> tuple[int, int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return (1 if _mode(im) == "L" else 3, im.height, im.width)


def image_channels(root: str | Path | None) -> int | None:
    """1 or 3: the channels both loaders give the tree (its first train image's); None if unreadable."""
    try:
        for sub in sorted(p for p in (Path(root) / "train").iterdir() if p.is_dir()):
            first = min((p for p in sub.iterdir() if p.suffix.lower() in EXTENSIONS), default=None)
            if first is not None:  # the same file _listing puts first
                return shape_of(first)[0]
    except (OSError, TypeError):  # no folder, no root, or not an image: load_data reports it properly
        return None
    return None


def size_sample(root: Path, n: int = SIZE_SAMPLE) -> tuple[list[tuple[int, int]], int]:
    """The (H, W) sizes of n evenly spaced train images, most common first, and their median shorter side."""
    files = list_imagefolder(root)[1].files
    picked = files[::max(1, len(files) // n)][:n]
    sizes = [shape_of(f)[1:] for f in picked]
    shorter = sorted(min(s) for s in sizes)
    return [s for s, _ in Counter(sizes).most_common()], shorter[len(shorter) // 2]


def _mode(im) -> str:
    return "L" if im.mode in ("1", "L", "I", "I;16", "F") else "RGB"


def _cached_decode(root: Path, split: str, lst: Listing) -> tuple[torch.Tensor, torch.Tensor, bool]:
    key = _cache_key(root, lst)
    for path in _cache_paths(root, split, key):
        if path.is_file():
            blob = torch.load(path, weights_only=True)
            return blob["images"], blob["labels"], True
    images, labels = _decode_all(lst)
    _write_cache(_cache_paths(root, split, key), {"images": images, "labels": labels})
    return images, labels, False


def _cache_key(root: Path, lst: Listing) -> str:
    h = hashlib.sha1(f"v{CACHE_VERSION}".encode())
    for f, y in zip(lst.files, lst.labels):
        st = f.stat()
        h.update(f"{f.relative_to(root)}|{y}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _cache_paths(root: Path, split: str, key: str) -> list[Path]:
    """Beside the data first, then the user cache (for read-only dataset folders)."""
    root_tag = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12]
    home = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sharesnet" / "imagefolder"
    name = f"{split}-{key}.pt"
    return [root / CACHE_DIR / name, home / root_tag / name]


def _write_cache(paths: list[Path], blob: dict) -> None:
    for path in paths:
        try:
            replace_atomically(path, lambda fh: torch.save(blob, fh))  # never a half cache
            return
        except OSError:
            continue  # read-only: try the next location; no cache is not an error


def _decode_all(lst: Listing) -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.tensor(lst.labels, dtype=torch.long)
    if not lst.files:
        return torch.zeros((0, 3, 1, 1), dtype=torch.uint8), labels
    mode = "L" if shape_of(lst.files[0])[0] == 1 else "RGB"
    # PIL releases the GIL while decoding, so threads scale without pickling pixels.
    with ThreadPoolExecutor(max_workers=min(16, (os.cpu_count() or 1) * 2)) as pool:
        # Headers first: a mixed-size tree is refused before any pixel is decoded.
        shapes = set(pool.map(lambda f: shape_of(f)[1:], lst.files))
        if len(shapes) > 1:
            raise NotInMemory(f"imagefolder: images have {len(shapes)} different sizes (e.g. "
                              f"{sorted(shapes)[:3]}); the in-memory loader does not fit; {FALLBACK}")
        arrays = list(pool.map(lambda f: _read(f, mode), lst.files))
    stacked = torch.from_numpy(np.stack(arrays))
    return (stacked.unsqueeze(1) if stacked.ndim == 3 else stacked.permute(0, 3, 1, 2)).contiguous(), labels


def _read(path: Path, mode: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert(mode))


def _default_padding(images: torch.Tensor) -> int:
    """He et al.'s 4 pixels at 32x32, scaled with the image side (at least 1)."""
    return max(1, round(images.shape[-1] / 8))
