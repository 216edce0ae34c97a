"""The logic of scripts/cifar10_to_folder.py: torchvision's CIFAR-10 written as a JPEG image folder."""
from __future__ import annotations

from pathlib import Path

from nas.cli.args import KNOWN_ERRORS, Parser, fail, integer


def main(argv: list[str], doc: str | None = None) -> int:
    ap = Parser(doc)
    ap.add_argument("--data-dir", required=True, help="torchvision's CIFAR-10 root (holding cifar-10-batches-py/)")
    ap.add_argument("--out", required=True, help="the image folder to write; must not hold train/ or test/ yet")
    ap.add_argument("--quality", type=integer(1), default=75, help="JPEG quality (75: the committed results' folder)")
    args = ap.parse_args(argv)
    from nas.cli.outdir import check_writable
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

