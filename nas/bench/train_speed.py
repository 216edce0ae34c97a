"""The logic of scripts/bench_train.py: benchmark the training engine, side by side, in one run."""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from nas.cli.args import Parser, integer
from sharesnet import get_spec
from sharesnet.rules import paper_sharing

CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def main(argv: list[str] | None = None, doc: str | None = None) -> int:
    args = parse_args(argv, doc)
    if args.smoke:
        args.data_dir = str(make_smoke_folder())
        args.steps, args.warmup, args.batch_size = 2, 1, 16
        args.model = args.model or "cifar_resnet20"
    if not args.data_dir or not (Path(args.data_dir) / "train").is_dir():
        sys.exit(f"error: --data-dir: no ImageFolder at {args.data_dir or 'DIR'}/train; extract the CIFAR-10 JPEGs "
                 "to a folder DIR (DIR/train/<class>/*.jpg) and pass --data-dir DIR, or run --smoke")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = args.model or ("preact_resnet164" if device == "cuda" else "cifar_resnet56")
    shared = paper_sharing(get_spec(model))
    compare = paper_sharing(get_spec(args.compare_model))
    base = dict(data_dir=args.data_dir, batch_size=args.batch_size, steps=args.steps,
                warmup=args.warmup, device=device, threads=args.threads)
    rows = [isolated(measure_decode, **base)]
    for r in range(args.repeats):  # alternate, so drifting machine load hits both alike
        rows.append(isolated(measure_engine, spec=shared, label=f"(1) engine, {model} shared", **base))
        rows.append(isolated(measure_engine, spec=shared.unshared(), label=f"(1) engine, {model} unshared",
                             **base))
    rows.append(isolated(measure_engine, spec=compare, label=f"(2) engine, {args.compare_model} shared", **base))
    rows.append(isolated(measure_reference, spec=compare, workers=args.workers,
                         label=f"(2) reference DataLoader, {args.compare_model} shared", **base))
    report(rows, model, args, device)
    if args.smoke:
        shutil.rmtree(args.data_dir, ignore_errors=True)
    return 0


def parse_args(argv: list[str] | None, doc: str | None) -> argparse.Namespace:
    p = Parser(doc)
    p.add_argument("--data-dir", help="ImageFolder root with train/<class>/* (required unless --smoke)")
    p.add_argument("--model", default=None, help="part (1) base net; default cifar_resnet56 on CPU, "
                   "preact_resnet164 (-> sharesnet164) on CUDA")
    p.add_argument("--compare-model", default="cifar_resnet20", help="part (2) net, paper-shared")
    p.add_argument("--batch-size", type=integer(1), default=128)
    p.add_argument("--steps", type=integer(1), default=30, help="timed steps")
    p.add_argument("--warmup", type=integer(0), default=5, help="untimed steps first")
    p.add_argument("--repeats", type=integer(1), default=2, help="alternating repeats of part (1); best kept")
    p.add_argument("--workers", type=integer(0), default=os.cpu_count(), help="reference DataLoader workers")
    p.add_argument("--threads", type=integer(1), default=torch.get_num_threads(), help="torch CPU threads")
    p.add_argument("--device", default=None)
    p.add_argument("--smoke", action="store_true", help="tiny synthetic ImageFolder, 2 steps")
    return p.parse_args(argv)


def isolated(fn, **kw) -> dict:
    """Run one measurement in a fresh process: its peak memory is its own."""
    # ProcessPoolExecutor workers are not daemonic, so the reference may start DataLoader workers.
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(fn, **kw).result()


def measure_decode(data_dir: str, **_) -> dict:
    """One-off decode (or cache read) of the ImageFolder into uint8 tensors."""
    from sharesnet.data import load_data

    base = _rss_peak()
    t = time.perf_counter()
    data = load_data("imagefolder", data_dir=data_dir, val_fraction=0.0)
    how = " (from decode cache)" if data.from_cache else " (JPEG decode)"
    return {"base_bytes": base, "label": "engine data load" + how,
            "seconds": time.perf_counter() - t, "images": len(data.train) + len(data.test),
            "peak_bytes": _rss_peak()}


def measure_engine(spec, label: str, data_dir: str, batch_size: int, steps: int, warmup: int,
                   device: str, threads: int) -> dict:
    """The engine's own step: on-device uint8 batches, vectorised augmentation, channels_last."""
    from sharesnet.data import batches, load_data
    from sharesnet.train import get_recipe
    from sharesnet.train.engine import augment_of, make_engine, train_step

    torch.set_num_threads(threads)
    dev = torch.device(device)
    base = _rss_peak()
    data = load_data("imagefolder", data_dir=data_dir, val_fraction=0.0, device=dev)
    recipe = get_recipe("wrn", batch_size=batch_size)
    eng = make_engine(spec, recipe, data, dev)
    eng.model.train()
    it = _forever(lambda: batches(data.train, batch_size, mean=data.mean, std=data.std,
                                  generator=eng.generator, augment=augment_of(recipe, data),
                                  drop_last=True, channels_last=eng.channels_last))
    step = lambda: train_step(eng, *next(it), recipe.effective_lr)
    return {"label": label, **_time_steps(step, steps, warmup, batch_size, dev), "params": _params(eng.model),
            "base_bytes": base}


def measure_reference(spec, label: str, data_dir: str, batch_size: int, steps: int, warmup: int,
                      device: str, threads: int, workers: int) -> dict:
    """The plain loop: ImageFolder + DataLoader, per-sample transforms, NCHW, fp32."""
    from torch.utils.data import DataLoader
    from torchvision import datasets
    from torchvision import transforms as T

    from sharesnet.model import build_model

    torch.set_num_threads(threads)
    dev = torch.device(device)
    base = _rss_peak()
    tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                    T.Normalize(CIFAR_MEAN, CIFAR_STD)])
    ds = datasets.ImageFolder(str(Path(data_dir) / "train"), transform=tf)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=workers, drop_last=True,
                        pin_memory=dev.type == "cuda", persistent_workers=workers > 0)
    torch.manual_seed(0)
    model = build_model(spec).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    it = _forever(lambda: iter(loader))  # noqa: F821 (deleted below, to join the workers)

    def step():
        x, y = next(it)  # noqa: F821
        x, y = x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    out = _time_steps(step, steps, warmup, batch_size, dev)
    del it, loader  # join the workers, so their peak RSS is counted as children's
    return {"label": label, **out, "params": _params(model), "workers": workers, "base_bytes": base,
            "worker_peak_bytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}


def _time_steps(step, steps: int, warmup: int, batch_size: int, dev: torch.device) -> dict:
    """images/s from the median step on CPU (robust to other jobs on a shared machine);
    from the total on CUDA, where per-step syncs would distort the pipeline."""
    for _ in range(warmup):
        step()
    _sync(dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    times, t0 = [], time.perf_counter()
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    _sync(dev)
    total = time.perf_counter() - t0
    typical = total / steps if dev.type == "cuda" else statistics.median(times)
    peak = torch.cuda.max_memory_allocated(dev) if dev.type == "cuda" else _rss_peak()
    return {"images_per_s": batch_size / typical, "mean_images_per_s": steps * batch_size / total,
            "seconds": total, "peak_bytes": peak}


def _forever(make_iter):
    while True:
        yield from make_iter()


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _rss_peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def make_smoke_folder() -> Path:
    """10 classes x 6 random 32x32 JPEGs in a temp dir (never in the repository)."""
    import numpy as np
    from PIL import Image

    root = Path(tempfile.mkdtemp(prefix="sharesnet-bench-"))
    rng = np.random.default_rng(0)
    for c in range(10):
        (root / "train" / f"c{c}").mkdir(parents=True)
        for i in range(6):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / "train" / f"c{c}" / f"{i}.jpg")
    return root


def hardware(device: str, threads: int) -> str:
    if device == "cuda":
        chip = torch.cuda.get_device_name(0)
    else:
        names = [ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                 if ln.startswith("model name")]
        chip = f"{names[0] if names else platform.processor()} ({len(names)} logical cores)"
    return f"{chip}; torch {torch.__version__}; {threads} torch threads; Python {platform.python_version()}"


def report(rows: list[dict], model: str, args, device: str) -> None:
    mib = lambda b: f"{b / 2**20:,.0f} MiB"
    cuda = device == "cuda"
    print(f"\nHardware: {hardware(device, args.threads)}")
    print(f"Batch {args.batch_size}, {args.steps} timed steps after {args.warmup} warm-up. Peak memory: "
          + ("CUDA max allocated." if cuda else "process max RSS, and its growth over the RSS right "
             "after imports (torch alone is several hundred MiB)."))
    print("images/s: from the median step time on CPU (mean over all timed steps in brackets).")
    print("\n| measurement | params | images/s | peak memory | growth | notes |\n|---|---:|---:|---:|---:|---|")
    decode, best = rows[0], {}
    print(f"| engine data load, {'from decode cache' if 'cache' in decode['label'] else 'JPEG decode'} | | "
          f"{decode['images'] / decode['seconds']:,.0f} | {mib(decode['peak_bytes'])} | "
          f"{mib(decode['peak_bytes'] - decode['base_bytes'])} | {decode['images']:,} images in "
          f"{decode['seconds']:.1f} s |")
    for r in rows[1:]:
        if r["label"] not in best or r["images_per_s"] > best[r["label"]]["images_per_s"]:
            best[r["label"]] = r
    for r in best.values():
        note = (f"{r['workers']} DataLoader workers, each peak RSS {mib(r['worker_peak_bytes'])}"
                if "workers" in r else f"best of {args.repeats}" if r["label"].startswith("(1)") else "")
        growth = "" if cuda else mib(r["peak_bytes"] - r["base_bytes"])
        print(f"| {r['label']} | {r['params']:,} | {r['images_per_s']:,.0f} ({r['mean_images_per_s']:,.0f}) "
              f"| {mib(r['peak_bytes'])} "
              f"| {growth} | {note} |")
    v = list(best.values())
    print(f"\n(1) shared / unshared images/s: {v[0]['images_per_s'] / v[1]['images_per_s']:.3f} (target >= 0.97)")
    print(f"(2) engine / reference images/s: {v[2]['images_per_s'] / v[3]['images_per_s']:.2f}x (target >= 2x)")

