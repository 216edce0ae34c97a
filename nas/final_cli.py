"""The final-retraining command line: parse, build jobs, train, summarise."""
from __future__ import annotations

import sys
from pathlib import Path

from nas.cliargs import KNOWN_ERRORS, Parser


def final_main(argv: list[str], doc: str) -> int:
    ap = Parser(doc)
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
