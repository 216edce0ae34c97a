#!/usr/bin/env python
"""Write torchvision's CIFAR-10 as the JPEG image folder that search_spaces/cifar10-cpu.yaml and
docs/results/cifar10-cpu use: OUT/train/<class>/NNNN.jpg (50,000) and OUT/test/<class>/NNNN.jpg
(10,000), JPEG quality 75 with 4:2:0 chroma subsampling, each class numbered 0000, 0001, ... in
the order torchvision's batches hold it. It reads the python-version archive that torchvision
downloads (cifar-10-batches-py/) and never downloads anything itself. JPEG is lossy: it prints
how far the pixels moved from the originals (mean absolute change and PSNR).

Examples:
  python -c "from torchvision.datasets import CIFAR10; CIFAR10('data/cifar10', download=True)"
  python scripts/cifar10_to_folder.py --data-dir data/cifar10 --out /tmp/cifar10
  python scripts/search.py --space search_spaces/cifar10-cpu.yaml      # its data_dir is /tmp/cifar10
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas.cliargs import KNOWN_ERRORS, Parser, fail, integer  # noqa: E402


def main(argv: list[str]) -> int:
    ap = Parser(__doc__)
    ap.add_argument("--data-dir", required=True, help="torchvision's CIFAR-10 root (holding cifar-10-batches-py/)")
    ap.add_argument("--out", required=True, help="the image folder to write; must not hold train/ or test/ yet")
    ap.add_argument("--quality", type=integer(1), default=75, help="JPEG quality (75: the committed results' folder)")
    args = ap.parse_args(argv)
    from nas.outdir import check_writable
    from sharesnet.data.cifar_jpeg import batches_dir, write_folder

    try:
        batches_dir(args.data_dir)
        check_writable(args.out, f"--out {args.out}")
        taken = [s for s in ("train", "test") if (Path(args.out) / s).exists()]
        if taken:
            return fail(f"--out {args.out}: already holds {' and '.join(taken)}/; pass an empty or new folder")
        w = write_folder(args.data_dir, args.out, args.quality)
    except KNOWN_ERRORS as e:
        return fail(str(e))
    print(f"wrote {w.counts['train']:,} train and {w.counts['test']:,} test images to {args.out} as JPEG quality "
          f"{args.quality}; against the original pixels: mean absolute change {w.mean_abs_change:.2f} of 255, "
          f"PSNR {w.psnr_db:.1f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
