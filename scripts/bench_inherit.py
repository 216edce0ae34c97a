#!/usr/bin/env python
"""Weight inheritance against training from scratch, on the architectures of a search space.

Each architecture trains from scratch under the space's trial recipe; the space's largest
plain net (the parent) trains once under it too; then every architecture inherits the
parent's weights and fine-tunes for each --finetune-epochs length. The report: both
accuracies per architecture, then per length Kendall tau and Spearman rho between the two
accuracy rankings, the overlap of the two Pareto fronts (val_acc max, params min: a/b = how
many of the b scratch-front members the inherited front also holds) and the compute ratio
(training images, inherited = parent + fine-tunes, over scratch; also FLOP-weighted, and
with the parent spread over the space's `trials` candidates). The last line is for the
shortest length with tau >= 0.7, else the longest:
  kendall_tau=0.81 spearman=0.93 front_overlap=3/4 cost_ratio=0.19

Examples:
  python scripts/bench_inherit.py --space search_spaces/cifar10-cpu.yaml --data-dir /tmp/cifar10 --out results/bench-inherit
  python scripts/bench_inherit.py ... --resume                       # after a stop: reuse what finished
  python scripts/bench_inherit.py --space search_spaces/cifar10-cpu.yaml --data-dir /tmp/cifar10 \
      --scratch-from docs/results/cifar10-cpu --archs 32 --out results/bench-inherit   # the search's 32 as scratch
  python scripts/bench_inherit.py --space search_spaces/quickstart.yaml --archs 4 --out /tmp/bi   # digits
  python scripts/bench_inherit.py --space search_spaces/quickstart.yaml --smoke --out /tmp/bi-smoke  # CI, ~1 min
"""
import sys

from nas.cli.bench_inherit import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], __doc__))
