"""The logic of scripts/export_pareto.py: export the Pareto front of a finished, running or interrupted search."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str], doc: str | None = None) -> int:
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--experiment", required=True, help="experiment folder written by scripts/search.py")
    args = ap.parse_args(argv)
    from nas.report.export import export_experiment, next_steps  # torch: after --help and argument errors

    try:
        export_experiment(args.experiment)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print()
    print(next_steps(Path(args.experiment)))
    return 0

