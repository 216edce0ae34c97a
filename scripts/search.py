#!/usr/bin/env python
"""Search weight-sharing patterns (and depth, width) with Ray Tune + Optuna.

Examples:
  python scripts/search.py --space search_spaces/quickstart.yaml            # CPU: the README's Quickstart
  python scripts/search.py --space search_spaces/cifar.yaml --gpus 8        # one machine, 8 GPUs
  python scripts/search.py --space search_spaces/cifar.yaml --gpus-per-trial 0.5 --gpus 4
  python scripts/search.py --space search_spaces/cifar.yaml --address auto  # a running Ray cluster
  python scripts/search.py --space search_spaces/quickstart.yaml --resume   # continue after a stop
"""
from __future__ import annotations

import sys

from nas.cli.search import search_main

if __name__ == "__main__":
    sys.exit(search_main(sys.argv[1:], __doc__))
