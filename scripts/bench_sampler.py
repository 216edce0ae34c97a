#!/usr/bin/env python
"""Benchmark the samplers' use of a search's trainings: before (conditional encoding,
repeats told their earlier result) and after (fixed encoding, repeats resampled), side by
side in one run, over several seeds per sampler. See nas/bench/sampler.py for the measures.

Examples:
  python scripts/bench_sampler.py                                   # quickstart space, 5 seeds x nsga2/tpe/random
  python scripts/bench_sampler.py --seeds 2 --samplers nsga2 --trainings 16

Trained results are cached in --out/cache.jsonl and finished searches in --out/runs.jsonl:
run the same command again to continue a stopped benchmark. The last line is
`hv_ratio_<sampler>=<hypervolume after / before>` per sampler.
"""
import sys

from nas.cli.bench_sampler import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], __doc__))
