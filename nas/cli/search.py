"""The search command line: parse, run the search, export, report; never claim success it did not have."""
from __future__ import annotations

import dataclasses
import sys
import time
from collections import Counter
from pathlib import Path

from nas.cli.args import EXIT_FAILED, KNOWN_ERRORS, Parser, fail, integer, number, resume_command
from nas.run.signals import EXIT_INTERRUPTED
from nas.search.journal import Journal
from nas.search.rows import Status

SCRIPT = "scripts/search.py"


def search_main(argv: list[str], doc: str) -> int:
    ap = Parser(doc)
    ap.add_argument("--space", required=True, help="search-space YAML (see search_spaces/README.md)")
    ap.add_argument("--out", default="experiments", help="parent folder of experiment folders")
    ap.add_argument("--name", help="experiment folder name (default: the space's name)")
    ap.add_argument("--resume", action="store_true", help="continue an interrupted search in the same folder")
    ap.add_argument("--gpus", type=integer(0), default=0, help="GPUs of this machine to use (0 = CPU)")
    ap.add_argument("--gpus-per-trial", type=number(0), help="GPUs per trial; fractions below 1 share a GPU "
                                                             "(default: 1 when --gpus > 0, else 0)")
    ap.add_argument("--cpus-per-trial", type=number(0, strict=True), default=1,
                    help="CPU cores per trial (also torch's thread count)")
    ap.add_argument("--address", help="join a Ray cluster: 'auto' or HOST:PORT (see README, multi-node)")
    ap.add_argument("--max-concurrent", type=integer(1), help="cap on trials running at once (default: no cap)")
    ap.add_argument("--trials", type=integer(1), help="override the space's number of trainings")
    args = ap.parse_args(argv)
    from nas.run.resources import ResourceError
    from nas.run.signals import StopRequest

    with StopRequest(print) as stop:
        try:
            return _search(args, argv, stop)
        except KNOWN_ERRORS + (ResourceError,) as e:
            return fail(str(e))
        except KeyboardInterrupt:  # a second Ctrl-C: out at once, but still say how to go on
            print(f"[search] stopped at once. Finished results are in the journal; continue with:\n"
                  f"  {resume_command(argv, SCRIPT)}", file=sys.stderr)
            return EXIT_INTERRUPTED[stop.signum or 2]


def _search(args, argv: list[str], stop) -> int:
    start = time.perf_counter()  # the user's wait: data, Ray start-up and export included
    from nas.cli.outdir import check_writable
    from nas.space.parse import load_space

    space = load_space(args.space)
    if args.trials is not None:
        space = dataclasses.replace(space, trials=args.trials)
    exp_dir = Path(args.out) / (args.name or space.name)
    check_writable(exp_dir, f"--out {args.out}")  # before Ray starts and the data loads

    from nas.report.export import export_experiment, next_steps
    from nas.run.driver import run_search
    from nas.run.resources import Resources, default_gpus_per_trial

    res = Resources(gpus=args.gpus, gpus_per_trial=default_gpus_per_trial(args.gpus, args.gpus_per_trial),
                    cpus_per_trial=args.cpus_per_trial, address=args.address, max_concurrent=args.max_concurrent)
    before = Journal(exp_dir).trained() if (exp_dir / "trials.jsonl").is_file() else 0
    summary = run_search(space, exp_dir, res, resume=args.resume, stop=stop)
    interrupted = summary["interrupted"] is not None
    if (exp_dir / "trials.jsonl").is_file():  # there is something to export
        export_experiment(exp_dir, log=print)
        print(next_steps(exp_dir, interrupted=interrupted))
    if interrupted:
        print(_interrupted_report(summary, exp_dir, resume_command(argv, SCRIPT)))
        return EXIT_INTERRUPTED[summary["interrupted"]]
    took = time.perf_counter() - start
    if not summary["front_size"]:  # `search.py ... && train_final.py ...` must not go on
        print(f"[search] FAILED after {took:.1f} s: the front is empty: no architecture finished its training "
              f"with a result ({_outcomes(exp_dir)}); see {exp_dir / 'trials.csv'}", file=sys.stderr)
        return EXIT_FAILED
    short = summary["trained"] < summary["target"]
    extra = f" and {summary['reevaluated']} re-evaluation(s)" if summary.get("reevaluated") else ""
    now = summary["trained"] - before
    print(f"[search] done in {took:.1f} s: {summary['trained']} of {summary['target']} trainings"
          + (" (the space ran out of new architectures)" if short else "")
          + (f", {now} of them in this run" if before and now else "")
          + (", all of them before this run: nothing was left to train" if before and not now else "")
          + f"{extra}; results in {exp_dir}")
    return 0


def _outcomes(exp_dir: Path) -> str:
    """What became of every proposal: `3 failed (e.g. diverged at epoch 1: ...), 2 repeat`."""
    rows = Journal(exp_dir).rows if (exp_dir / "trials.jsonl").is_file() else []
    counts = Counter(r["status"] for r in rows)
    if not counts:
        return "no trial ran"
    first = {}
    for r in rows:
        first.setdefault(r["status"], r.get("reason"))
    return ", ".join(f"{n} {status}" + (f" (e.g. {first[status]})" if first[status] and status != Status.REPEAT else "")
                     for status, n in counts.most_common())


def _interrupted_report(summary: dict, exp_dir: Path, command: str) -> str:
    cut = summary["cut_off"]
    kept = ", ".join(f"{r['arch_id']} ({_saved(r['checkpoint_epoch'])})" for r in cut)
    lines = [f"[search] INTERRUPTED after {summary['wall_time_s']:.1f} s: {summary['trained']} of {summary['target']} "
             f"trainings finished" + (f"; {len(cut)} cut off: {kept}" if cut else ""),
             f"[search] saved in {exp_dir}: trials.jsonl, optuna.db, checkpoints/; the front above is partial",
             f"[search] continue with:\n  {command}"]
    return "\n".join(lines)


def _saved(epoch: int | None) -> str:
    return f"checkpoint at epoch {epoch}" if epoch else "no checkpoint yet"
