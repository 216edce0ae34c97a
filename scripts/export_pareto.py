#!/usr/bin/env python
"""Export the Pareto front of a finished, running or interrupted search.

Writes DIR/pareto.yaml (each entry buildable on its own), DIR/pareto.csv (every
evaluated architecture with its rank, 1 = the front), DIR/pareto.png, and prints the
front, where the plain ResNet and the paper's ShaResNet sit, and the retraining command.

Examples:
  python scripts/export_pareto.py --experiment experiments/quickstart
"""
import sys

from nas.cli.export import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], __doc__))
