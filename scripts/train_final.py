#!/usr/bin/env python
"""Retrain chosen architectures on train+validation with a full recipe; report test accuracy.

This is the only step that reads the test split. It trains on the FULL dataset unless
--limit says otherwise (a search's limit is not inherited) and always tests on the full
test split unless --test-limit (smoke checks) says otherwise. Each job keeps a per-epoch
checkpoint; Ctrl-C (or SIGTERM) stops at once, keeps what is done, prints the command
that continues, and exits 130 (143). final_results.md gathers every run made in --out.

Examples:
  python scripts/train_final.py --pareto experiments/quickstart/pareto.yaml --select all,plain,paper --recipe fast --epochs 15
  python scripts/train_final.py --pareto experiments/cifar10-preact164/pareto.yaml --select 0,2 --recipe wrn --seeds 3 --gpus 8
  python scripts/train_final.py --pareto experiments/quickstart/pareto.yaml --limit 400   # keep a search's limit
  python scripts/train_final.py --preset preact_resnet164 --preset sharesnet164 --recipe wrn --seeds 3 --gpus 2
  python scripts/train_final.py --preset preact_resnet164 --preset sharesnet164 --smoke      # CPU, about a minute
  python scripts/train_final.py --arch my_spec.yaml --dataset imagefolder --data-dir /tmp/cifar10 --recipe he2016
  python scripts/train_final.py --preset cifar_resnet20 --recipe wrn --epochs 30   # milestones scale: 9/18/24
  python scripts/train_final.py ... --resume      # continue interrupted jobs from their last epoch
  python scripts/train_final.py ... --jobs 2      # CPU: two jobs at a time, the cores split between them
  python scripts/train_final.py ... --reuse results/final-old   # take finished runs of the same jobs from there
"""
from __future__ import annotations

import sys

from nas.cli.final import final_main

if __name__ == "__main__":
    sys.exit(final_main(sys.argv[1:], __doc__))
