"""The logic of scripts/bench_sampler.py: how well the samplers use a search's trainings."""
from __future__ import annotations

import json
import time
from pathlib import Path

from nas.cli.args import KNOWN_ERRORS, Parser, fail, integer


def main(argv: list[str], doc: str | None = None) -> int:
    p = Parser(doc)
    p.add_argument("--space", default="search_spaces/quickstart.yaml", help="the search space")
    p.add_argument("--samplers", default="nsga2,tpe,random", help="comma-separated sampler names")
    p.add_argument("--seeds", type=integer(1), default=5, help="searches per sampler and mode (seeds 0..N-1)")
    p.add_argument("--trainings", type=integer(1), default=None, help="trainings per search (default: the space's trials)")
    p.add_argument("--modes", default="before,after", help="comma-separated: before, after, fixed-only, resample-only")
    p.add_argument("--threads", type=integer(1), default=1, help="torch threads for the trainings")
    p.add_argument("--out", default="experiments/bench-sampler", help="folder for the caches and the table")
    args = p.parse_args(argv)
    from nas.space.config import SAMPLERS  # torch: after --help and argument errors
    from nas.space.parse import load_space

    samplers = args.samplers.split(",")
    if bad := [s for s in samplers if s not in SAMPLERS]:
        p.error(f"--samplers: unknown {', '.join(bad)}; choose from {', '.join(SAMPLERS)}")
    from nas.bench import sampler as B

    modes = args.modes.split(",")
    if bad := [m for m in modes if m not in B.MODES]:
        p.error(f"--modes: unknown {', '.join(bad)}; choose from {', '.join(B.MODES)}")

    try:
        space = load_space(args.space)
    except KNOWN_ERRORS as e:
        return fail(str(e))
    trainings = args.trainings or space.trials
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs_file = out / "runs.jsonl"
    done = [B.Run(**{k: v for k, v in json.loads(line).items() if k in B.Run.__dataclass_fields__})
            for line in (runs_file.read_text().splitlines() if runs_file.exists() else [])]
    done = [r for r in done if r.trainings <= trainings and r.sampler in samplers and r.seed < args.seeds]
    trainer = B.Trainer(space, out / "cache.jsonl", args.threads, print)
    todo = [(m, s, k) for k in range(args.seeds) for s in samplers for m in modes
            if not any((r.mode, r.sampler, r.seed) == (m, s, k) for r in done)]
    print(f"[bench] {args.space}: {len(todo)} of {len(todo) + len(done)} searches to run, {trainings} trainings "
          f"each; {len(trainer.results)} trained results cached in {out / 'cache.jsonl'}", flush=True)
    start = time.perf_counter()
    for i, (mode, sampler, seed) in enumerate(todo, 1):
        run = B.run_one(space, mode, sampler, seed, trainings, trainer)
        done.append(run)
        with runs_file.open("a") as f:
            f.write(json.dumps(run.row()) + "\n")
        row = run.row()
        print(f"[bench] {i}/{len(todo)} {sampler} seed {seed} {mode}: {run.proposals} proposals, "
              f"{row['repeat_share']:.0%} repeats, {run.slots_repeated} sampler slots on repeats, hypervolume "
              f"{run.hypervolume:.4f} | {trainer.trained_now} new trainings so far, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    table = B.summary(done)
    (out / "summary.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))
    print(B.ratios(done))
    return 0

