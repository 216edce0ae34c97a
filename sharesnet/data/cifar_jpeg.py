"""torchvision's CIFAR-10 archive, written as the JPEG image folder the committed CIFAR-10 results used.

docs/results/cifar10-cpu trained on ROOT/train/<class>/NNNN.jpg and ROOT/test/<class>/NNNN.jpg:
JPEG quality 75 with 4:2:0 chroma subsampling (the committed folder's quantization tables
are exactly Pillow's at quality=75). This writes that tree from the python-version archive
that torchvision downloads (cifar-10-batches-py/: data_batch_1..5, test_batch, batches.meta),
numbering each class's images 0000, 0001, ... in the order the batches hold them, and
measures how far the lossy compression moved the pixels from the originals.
"""
from __future__ import annotations

import io
import math
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sharesnet.data.errors import DataError

ARCHIVE = "cifar-10-batches-py"
BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
QUALITY = 75  # the committed folder's setting


@dataclass(frozen=True)
class Written:
    counts: dict[str, int]  # images per split
    mean_abs_change: float  # mean |JPEG - original| per pixel and channel, on the 0-255 scale
    psnr_db: float  # peak signal-to-noise ratio of the JPEGs against the originals


def batches_dir(data_dir: str | Path) -> Path:
    """The cifar-10-batches-py folder in `data_dir` (torchvision's root), or `data_dir` itself."""
    root = Path(data_dir)
    for d in (root / ARCHIVE, root):
        if all((d / name).is_file() for names in BATCHES.values() for name in names) and (d / "batches.meta").is_file():
            return d
    raise DataError(f"--data-dir {root}: no {ARCHIVE}/ there (torchvision's CIFAR-10 python archive, extracted, with "
                    f"data_batch_1..5, test_batch and batches.meta); get it on a machine with internet access with "
                    f"python -c \"from torchvision.datasets import CIFAR10; CIFAR10('{root}', download=True)\"")


def _load(path: Path) -> dict:
    with path.open("rb") as f:
        return pickle.load(f, encoding="latin1")  # as torchvision reads these files


def read(folder: Path) -> tuple[list[str], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """(class names, {split: (uint8 N x 32 x 32 x 3 images, int labels)}) in the batches' order."""
    classes = list(_load(folder / "batches.meta")["label_names"])
    splits = {}
    for split, names in BATCHES.items():
        parts = [_load(folder / n) for n in names]
        images = np.concatenate([np.asarray(p["data"], dtype=np.uint8) for p in parts]).reshape(-1, 3, 32, 32)
        labels = np.concatenate([np.asarray(p["labels"]) for p in parts])
        splits[split] = (images.transpose(0, 2, 3, 1), labels)
    return classes, splits


def write_folder(data_dir: str | Path, out: str | Path, quality: int = QUALITY) -> Written:
    """Write out/{train,test}/<class>/NNNN.jpg; measure the JPEGs against the original pixels."""
    from PIL import Image

    classes, splits = read(batches_dir(data_dir))
    out = Path(out)
    counts, abs_sum, sq_sum, values = {}, 0.0, 0.0, 0
    for split, (images, labels) in splits.items():
        seen = [0] * len(classes)
        for c in classes:
            (out / split / c).mkdir(parents=True, exist_ok=True)
        for image, label in zip(images, labels):
            buf = io.BytesIO()
            Image.fromarray(image).save(buf, "JPEG", quality=quality)  # Pillow's default 4:2:0 subsampling
            (out / split / classes[label] / f"{seen[label]:04d}.jpg").write_bytes(buf.getvalue())
            seen[label] += 1
            diff = np.asarray(Image.open(buf).convert("RGB"), dtype=np.float64) - image
            abs_sum, sq_sum, values = abs_sum + np.abs(diff).sum(), sq_sum + (diff ** 2).sum(), values + diff.size
        counts[split] = len(labels)
    mse = sq_sum / max(values, 1)
    return Written(counts, abs_sum / max(values, 1), math.inf if mse == 0 else 10 * math.log10(255 ** 2 / mse))
