"""scripts/cifar10_to_folder.py on a tiny fake CIFAR-10 archive in torchvision's format (issue 17, item 8)."""
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sharesnet.data import load_data
from sharesnet.data.cifar_jpeg import read

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _smooth(rng, n):
    """Photo-like images: smooth colour gradients, which JPEG keeps close (noise it would not)."""
    y, x = np.mgrid[0:32, 0:32] / 31.0
    base = rng.uniform(40, 200, (n, 3, 1, 1)) + rng.uniform(-40, 40, (n, 3, 1, 1)) * (x + y)
    return base.clip(0, 255).astype(np.uint8)  # N x 3 x 32 x 32, as the archive's rows


def write_archive(root: Path, per_batch: int = 6) -> tuple[Path, dict]:
    """root/cifar-10-batches-py/ as torchvision downloads it: pickled dicts of 3072-byte rows and labels."""
    rng, folder, kept = np.random.default_rng(0), root / "cifar-10-batches-py", {}
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        images, labels = _smooth(rng, per_batch), [int(v) for v in rng.integers(0, 10, per_batch)]
        batch = {"batch_label": name, "labels": labels, "data": images.reshape(per_batch, 3072),
                 "filenames": [f"{name}_{i}.png" for i in range(per_batch)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        kept[name] = (images.transpose(0, 2, 3, 1), labels)
    meta = {"label_names": CLASSES, "num_cases_per_batch": per_batch, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return root, kept


def _run(*args):
    return subprocess.run([sys.executable, str(ROOT / "scripts/cifar10_to_folder.py"), *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_the_archive_reads_as_torchvision_reads_it(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as tv_cifar

    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *a, **k: True)  # a fake has no official checksums

    class Unchecked(tv_cifar.CIFAR10):
        def _check_integrity(self):
            return True

    root, _ = write_archive(tmp_path)
    classes, splits = read(root / "cifar-10-batches-py")
    for split, train in (("train", True), ("test", False)):
        tv = Unchecked(str(root), train=train, download=False)
        assert classes == tv.classes and (splits[split][0] == tv.data).all()
        assert list(splits[split][1]) == list(tv.targets)


def test_it_writes_the_image_folder_tree_and_says_how_close_the_jpegs_are(tmp_path):
    root, kept = write_archive(tmp_path)
    out = tmp_path / "cifar10"
    p = _run("--data-dir", root, "--out", out)
    assert p.returncode == 0, p.stderr
    line = p.stdout.strip().splitlines()[-1]
    assert line.startswith(f"wrote 30 train and 6 test images to {out} as JPEG quality 75; against the original "
                           f"pixels: mean absolute change ")
    # Each class numbered in the batches' order: the first train image of a class is its 0000.jpg.
    images, labels = kept["data_batch_1"]
    first = CLASSES[labels[0]]
    decoded = np.asarray(Image.open(out / "train" / first / "0000.jpg").convert("RGB"), dtype=float)
    change = np.abs(decoded - images[0]).mean()
    assert change < 4, change  # quality 75 on a smooth image: a few levels of 255
    with Image.open(out / "train" / first / "0000.jpg") as im:
        assert im.format == "JPEG" and im.size == (32, 32)
    assert sum(1 for _ in (out / "train").glob("*/*.jpg")) == 30 and sum(1 for _ in (out / "test").glob("*/*.jpg")) == 6
    data = load_data("imagefolder", data_dir=out, val_fraction=0.2)  # the project reads it as any image folder
    assert len(data.train) + len(data.val) == 30 and len(data.test) == 6 and data.image_size == (32, 32)
    mean = float(line.split("mean absolute change ")[1].split(" of 255")[0])
    psnr = float(line.split("PSNR ")[1].split(" dB")[0])
    assert 0 < mean < 4 and psnr > 30


@pytest.mark.parametrize("case", ["no archive", "folder taken"])
def test_bad_input_is_one_line_and_exit_2(tmp_path, case):
    root = write_archive(tmp_path / "data")[0] if case == "folder taken" else tmp_path / "nothing"
    out = tmp_path / "out"
    (out / "train").mkdir(parents=True)
    p = _run("--data-dir", root, "--out", out)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    if case == "no archive":
        assert p.stderr.startswith(f"error: --data-dir {root}: no cifar-10-batches-py/ there") and \
            "CIFAR10(" in p.stderr and "download=True" in p.stderr
    else:
        assert p.stderr == f"error: --out {out}: already holds train/; pass an empty or new folder\n"
