"""The search command line: parse, run the search, export, report."""
from __future__ import annotations

import sys
from pathlib import Path

from nas.cliargs import KNOWN_ERRORS, Parser


def search_main(argv: list[str], doc: str) -> int:
    ap = Parser(doc)
    ap.add_argument("--space", required=True, help="search-space YAML (see search_spaces/README.md)")
    ap.add_argument("--out", default="experiments", help="parent folder of experiment folders")
    ap.add_argument("--name", help="experiment folder name (default: the space's name)")
    ap.add_argument("--resume", action="store_true", help="continue an interrupted search in the same folder")
    ap.add_argument("--gpus", type=float, default=0, help="GPUs of this machine to use (0 = CPU)")
    ap.add_argument("--gpus-per-trial", type=float, help="GPUs per trial; fractions share a GPU (default 1 "
                                                          "when --gpus > 0)")
    ap.add_argument("--cpus-per-trial", type=float, default=1, help="CPU cores per trial (torch threads)")
    ap.add_argument("--address", help="join a Ray cluster: 'auto' or HOST:PORT (see README, multi-node)")
    ap.add_argument("--max-concurrent", type=int, help="cap on trials running at once")
    ap.add_argument("--trials", type=int, help="override the space's number of trainings")
    args = ap.parse_args(argv)
    try:
        return _search(args)
    except KNOWN_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _search(args) -> int:
    import dataclasses

    from nas.driver import Resources, run_search
    from nas.space import load_space

    space = load_space(args.space)
    if args.trials:
        space = dataclasses.replace(space, trials=args.trials)
    gpt = args.gpus_per_trial if args.gpus_per_trial is not None else (1 if args.gpus else 0)
    res = Resources(gpus=args.gpus, gpus_per_trial=gpt, cpus_per_trial=args.cpus_per_trial, address=args.address,
                    max_concurrent=args.max_concurrent)
    exp_dir = Path(args.out) / (args.name or space.name)
    summary = run_search(space, exp_dir, res, resume=args.resume)
    from nas.export import export_experiment

    export_experiment(exp_dir, log=print)
    print(f"[search] done in {summary['wall_time_s']:.1f} s: {summary['trained']} trained; "
          f"results in {exp_dir}")
    return 0
