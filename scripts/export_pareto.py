#!/usr/bin/env python
"""Export the Pareto front of a finished, running or interrupted search.

Writes DIR/pareto.yaml (each entry buildable on its own), DIR/pareto.csv (every
evaluated architecture with its rank, 1 = the front), DIR/pareto.png, and prints the
front, where the plain ResNet and the paper's ShaResNet sit, and the retraining command.

Examples:
  python scripts/export_pareto.py --experiment experiments/quickstart
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas.export import export_experiment, next_steps  # noqa: E402


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--experiment", required=True, help="experiment folder written by scripts/search.py")
    args = ap.parse_args(argv)
    try:
        export_experiment(args.experiment)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print()
    print(next_steps(Path(args.experiment)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
