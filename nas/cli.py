"""Thin command lines: parse, call one function, turn known errors into one clear line."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nas.schema import SpaceError
from sharesnet.data import DataError
from sharesnet.spec import SpecError

KNOWN_ERRORS = (SpaceError, SpecError, DataError, FileNotFoundError)


def search_main(argv: list[str], doc: str) -> int:
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
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


def final_main(argv: list[str], doc: str) -> int:
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_argument_group("what to train (combine freely)")
    src.add_argument("--pareto", help="pareto.yaml written by a search")
    src.add_argument("--select", default="all", help="with --pareto: all | indices 0,2 | arch_ids")
    src.add_argument("--arch", action="append", default=[], help="a spec YAML/JSON file (repeatable)")
    src.add_argument("--preset", action="append", default=[], help="a model preset, e.g. sharesnet164 (repeatable)")
    data = ap.add_argument_group("data (pareto entries carry their own unless --dataset is given)")
    data.add_argument("--dataset", help="digits | cifar10 | cifar100 | imagefolder (default cifar10; smoke: digits)")
    data.add_argument("--data-dir", help="where the dataset lives")
    data.add_argument("--split-seed", type=int, default=0)
    data.add_argument("--val-fraction", type=float, default=0.1)
    ap.add_argument("--recipe", default="wrn", help="a named recipe (wrn, he2016, fast) or a recipe YAML file")
    ap.add_argument("--epochs", type=int, help="override the recipe's epochs")
    ap.add_argument("--batch-size", type=int, help="override the recipe's batch size")
    ap.add_argument("--seeds", type=int, default=1, help="runs per architecture (seeds recipe.seed, +1, ...)")
    ap.add_argument("--out", default="results/final", help="output folder")
    ap.add_argument("--resume", action="store_true", help="continue interrupted jobs, reuse finished ones")
    ap.add_argument("--gpus", type=int, default=0, help="run jobs in parallel, one GPU each (through Ray)")
    ap.add_argument("--smoke", action="store_true", help="5 epochs, 1 seed, 1000 images, digits unless --dataset: a CPU check")
    args = ap.parse_args(argv)
    if not (args.pareto or args.arch or args.preset):
        ap.error("nothing to train: give --pareto, --arch or --preset")
    try:
        return _final(args)
    except KNOWN_ERRORS + (ValueError,) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _final(args) -> int:
    import dataclasses

    from nas.final import from_pareto, from_preset, make_jobs, run_all, summarise
    from nas.space import DataConfig
    from sharesnet.spec import ArchSpec
    from sharesnet.train import Recipe, get_recipe, list_recipes

    if args.smoke:
        args.dataset, args.epochs, args.seeds = args.dataset or "digits", 5, 1
    data = DataConfig(dataset=args.dataset or "cifar10", data_dir=args.data_dir, val_fraction=args.val_fraction,
                      split_seed=args.split_seed, limit=1000 if args.smoke else None)
    archs = []
    if args.pareto:
        archs += [(n, s, data if args.dataset else d) for n, s, d in from_pareto(args.pareto, args.select)]
    archs += [(Path(a).stem, ArchSpec.load(a), data) for a in args.arch]
    archs += [from_preset(p, data) for p in args.preset]
    recipe = get_recipe(args.recipe) if args.recipe in list_recipes() else Recipe.load(args.recipe)
    over = {k: v for k, v in (("epochs", args.epochs), ("batch_size", args.batch_size)) if v}
    recipe = dataclasses.replace(recipe, **over) if over else recipe
    out = Path(args.out)
    jobs = make_jobs(archs, recipe, args.seeds, out)
    print(f"[final] {len(jobs)} job(s): {len(archs)} architecture(s) x {args.seeds} seed(s), recipe "
          f"{recipe.name or args.recipe} ({recipe.epochs} epochs); output in {out}")
    rows = run_all(jobs, args.gpus, args.resume)
    print(summarise(rows, out))
    return 0
