#!/usr/bin/env python
"""Does a cheap search trial rank architectures as their final retraining does?

Trains every net of a plan under several proxy settings and seeds (and the final recipe
where no train_final result exists yet), then reports per proxy: the seed std of its score,
Kendall tau, Spearman and top-k agreement against the final mean test accuracy, and its cost
in training images relative to one final retraining. The last line names the best proxy:
  proxy=econas kendall_tau=0.61 spearman=0.78 seed_std=0.0121 cost_ratio=0.120

Every run is cached in --out by (net, recipe, data, threads); processes sharing one --out
split the work. Exit 3: the report is partial (runs missing); 130/143: interrupted.

Examples:
  python scripts/fidelity.py --plan search_spaces/fidelity/quickstart.yaml --out results/fidelity-quickstart
  python scripts/fidelity.py --plan search_spaces/fidelity/cifar10-cpu.yaml --data-dir /tmp/cifar10 \\
      --threads 1 --out docs/results/fidelity-cifar10-cpu --resume
  python scripts/fidelity.py ... --resume --only proxies    # short runs only: a window too short for a final
  python scripts/fidelity.py ... --resume --proxy gentle    # only the runs of one proxy (repeatable)
  python scripts/fidelity.py --plan search_spaces/fidelity/cifar10-cpu.yaml --out docs/results/fidelity-cifar10-cpu \\
      --threads 1 --report                        # the table from what has finished so far
"""
from __future__ import annotations

import sys

from nas.cli.fidelity import fidelity_main

if __name__ == "__main__":
    sys.exit(fidelity_main(sys.argv[1:], __doc__))
