"""Print every preset's parameters, FLOPs, checkpoint size and arch_id as Markdown.

Usage: python -m sharesnet.table [--names resnet18,sharesnet34] [--no-flops]
"""
from __future__ import annotations

import argparse
import time

from sharesnet.cost import FLOP_UNIT, checkpoint_bytes, count_flops, count_params
from sharesnet.model import build_model
from sharesnet.registry import get_spec, list_models


def input_size(spec) -> tuple[int, int, int]:
    """The conventional input of a preset: 32x32 for CIFAR stems, 224x224 for ImageNet."""
    side = 224 if spec.stem == "imagenet" else 32
    return (spec.in_channels, side, side)


def row(name: str, flops: bool = True) -> dict:
    spec = get_spec(name)
    model = build_model(spec)
    return {
        "model": name,
        "params": count_params(model),
        "flops": count_flops(model, input_size(spec)) if flops else None,
        "ckpt_mb": checkpoint_bytes(model) / 2**20,
        "input": "x".join(map(str, input_size(spec))),
        "arch_id": spec.arch_id,
        "sharing": spec.sharing_summary(),
    }


def markdown(rows: list[dict]) -> str:
    head = "| model | params | FLOPs (G, fvcore: 1 MAC = 1 flop) | checkpoint (MB) | input | arch_id |"
    lines = [head, "|---|---:|---:|---:|---|---|"]
    for r in rows:
        flops = "-" if r["flops"] is None else f"{r['flops'] / 1e9:.3f}"
        lines.append(f"| {r['model']} | {r['params'] / 1e6:.3f}M | {flops} | {r['ckpt_mb']:.1f} "
                     f"| {r['input']} | `{r['arch_id']}` |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--names", default="", help="comma-separated presets (default: all)")
    ap.add_argument("--no-flops", action="store_true", help="skip the fvcore FLOP count")
    args = ap.parse_args(argv)
    names = [n for n in args.names.split(",") if n] or list_models()
    start = time.perf_counter()
    print(markdown([row(n, flops=not args.no_flops) for n in names]))
    print(f"\nFLOPs unit: {FLOP_UNIT}, batch 1. Measured in {time.perf_counter() - start:.1f} s.")


if __name__ == "__main__":
    main()
