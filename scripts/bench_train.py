#!/usr/bin/env python
"""Benchmark the training engine, side by side, in one run.

(1) Training images/s of a ShaResNet (paper sharing rule) vs the same net unshared.
(2) This engine (uint8 tensors in memory, whole-batch augmentation, channels_last) vs the
    loop a user would write: torchvision ImageFolder + DataLoader with per-sample
    RandomCrop(32, 4) + RandomHorizontalFlip + ToTensor + Normalize, NCHW, fp32.
(3) Peak memory of each. Every measurement runs in a fresh process, so peaks are its own.

Examples:
  python scripts/bench_train.py --data-dir DIR                 # DIR: CIFAR-10 JPEGs as DIR/train/<class>/*.jpg
  python scripts/bench_train.py --data-dir DIR --model cifar_resnet56 --steps 50
  python scripts/bench_train.py --smoke                         # tiny synthetic run (CI)

Data: an ImageFolder root with train/<class>/*.jpg, e.g. the CIFAR-10 JPEG archives
extracted outside the repository (tar -xzf cifar10-jpeg-train.tar.gz -C DIR). The
engine's one-off decode is timed separately.
"""
import sys

from nas.bench.train_speed import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], __doc__))
