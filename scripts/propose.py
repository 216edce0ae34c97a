#!/usr/bin/env python
"""Train one soft-shared net and read sharing masks off it (Savarese & Maire 2019).

The space's base network, plain, gets a bank of templates at every stage and conv position
the space searches; each block after a stage's first mixes them with its own coefficients.
It trains once, with the space's data and trial recipe (no Ray). Blocks whose coefficients
point the same way learned the same filters up to a scale, so clustering the layer
similarity matrices at a sweep of thresholds gives hard masks from light to heavy sharing.
Each proposal is written as an ArchSpec YAML file with its params and FLOPs and its
validation accuracy with the soft weights folded in (no retraining), beside a table and
similarity.png. A search then starts from them (`warm_start: [..., {proposals: DIR}]`),
or train_final.py retrains them (`--arch DIR/specs`).

Examples:
  python scripts/propose.py --space search_spaces/quickstart.yaml        # digits, under a minute on 2 CPU cores
  python scripts/propose.py --space search_spaces/cifar10-cpu.yaml --templates 2 --out experiments/soft-c10
  python scripts/propose.py --space search_spaces/quickstart.yaml --thresholds 0.9,0.5 --out /tmp/p
  python scripts/propose.py --space search_spaces/quickstart.yaml --smoke --out /tmp/p   # seconds; a path check
  python scripts/search.py --space search_spaces/quickstart-soft.yaml   # a search warm-started from them
  python scripts/train_final.py --arch experiments/quickstart-proposals/specs --dataset digits --recipe fast --epochs 15
"""
from __future__ import annotations

import sys

from nas.cli.propose import propose_main

if __name__ == "__main__":
    sys.exit(propose_main(sys.argv[1:], __doc__))
