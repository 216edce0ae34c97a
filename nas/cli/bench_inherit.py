"""The logic of scripts/bench_inherit.py: weight inheritance against training from scratch."""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from nas.cli.args import KNOWN_ERRORS, Parser, fail, integer, number


def main(argv: list[str], doc: str | None = None) -> int:
    p = Parser(doc)
    p.add_argument("--space", required=True, help="search-space YAML: its data, base, vary, train and budgets")
    p.add_argument("--data-dir", help="override the space's data.data_dir")
    p.add_argument("--archs", type=integer(2), default=12, help="architectures: plain, paper, then random ones "
                                                                    "(with --scratch-from: the search's first N, "
                                                                    "in trial order)")
    p.add_argument("--finetune-epochs", default="1,2", help="comma-separated fine-tune lengths to compare")
    p.add_argument("--finetune-lr", type=number(0, strict=True), help="base lr of the fine-tunes "
                                                                       "(default: the trial recipe's)")
    p.add_argument("--seed", type=integer(0), default=0, help="seed of the random architectures")
    p.add_argument("--scratch-from", help="a finished search of the same space (its folder, with space.yaml and "
                                          "trials.csv): its trained architectures and their results are the scratch "
                                          "side, instead of training --archs random ones from scratch")
    p.add_argument("--epochs", type=integer(1), help="override the trial recipe's epochs (schedule scaled)")
    p.add_argument("--limit", type=integer(1), help="override data.limit (images per split)")
    p.add_argument("--device", help="cpu or cuda (default: cuda when torch sees one)")
    p.add_argument("--threads", type=integer(1), help="torch CPU threads")
    p.add_argument("--out", required=True, help="folder of the results; every training is cached there")
    p.add_argument("--resume", action="store_true", help="reuse the results and checkpoints already in --out")
    p.add_argument("--smoke", action="store_true", help="tiny run: 4 archs, 2 epochs, 300 images, fine-tune 1")
    args = p.parse_args(argv)
    try:
        return _run(args)
    except KNOWN_ERRORS + (ValueError,) as e:
        return fail(str(e))


def _run(args) -> int:
    import torch

    from nas.bench.inherit import choose, last_line, pick_archs, run_bench, searched, table
    from nas.space.datacheck import check_data
    from nas.space.parse import load_space
    from sharesnet.data import load_data

    if args.smoke:
        args.archs, args.epochs, args.limit, args.finetune_epochs = 4, 2, 300, "1"
    finetunes = sorted({int(x) for x in args.finetune_epochs.split(",")})
    if min(finetunes) < 1:
        raise ValueError(f"--finetune-epochs: lengths must be >= 1, got {args.finetune_epochs!r}")
    if args.threads:
        torch.set_num_threads(args.threads)
    space = _overridden(load_space(args.space), args)
    out = Path(args.out)
    if out.is_dir() and any(out.iterdir()) and not args.resume:
        raise ValueError(f"--out {out}: holds an earlier run; pass --resume to reuse it, or choose another --out")
    space = check_data(space, print)
    data = load_data(**space.data.load_kwargs())
    done = searched(space, data, Path(args.scratch_from)) if args.scratch_from else None
    archs = [spec for spec, _ in done.values()][:args.archs] if done else pick_archs(space, args.archs, args.seed)
    source = f"the first {len(archs)} trained by the search in {args.scratch_from} (its results are the scratch " \
        f"side)" if done else f"{len(archs)} architectures of {space.name}"
    print(f"[bench] {source}; trial recipe {space.recipe.name or 'custom'}, "
          f"{space.recipe.epochs} epochs; fine-tunes of {', '.join(map(str, finetunes))} epoch(s)")
    start = time.perf_counter()
    report = run_bench(space, data, archs, finetunes, out, args.device, args.finetune_lr, print, done)
    (out / "summary.json").write_text(json.dumps(report, indent=1))
    chosen = choose(report["summaries"])
    print(table(report, finetunes, space.trials))
    print(f"[bench] {time.perf_counter() - start:.1f} s; reported: fine-tune {chosen} epoch(s), the shortest "
          f"reaching tau >= 0.7, else the longest; results in {out}")
    print(last_line(report["summaries"][chosen]))
    return 0


def _overridden(space, args):
    data = space.data
    if args.data_dir:
        data = dataclasses.replace(data, data_dir=args.data_dir)
    if args.limit:
        data = dataclasses.replace(data, limit=args.limit)
    recipe = space.recipe.with_epochs(args.epochs) if args.epochs else space.recipe
    return dataclasses.replace(space, data=data, recipe=recipe)

