"""The final-retraining command line: parse, build jobs, train, summarise; never claim success it did not have."""
from __future__ import annotations

import dataclasses
import signal
import sys
from pathlib import Path

from nas.cli.args import KNOWN_ERRORS, Parser, fail, fraction, integer, resume_command
from nas.report.progress import count
from nas.run.signals import interrupts_raise

SCRIPT = "scripts/train_final.py"
SMOKE = {"dataset": "digits", "epochs": 5, "seeds": 1, "limit": 1000, "test_limit": 1000}  # a CPU check


def final_main(argv: list[str], doc: str) -> int:
    ap = _parser(doc)
    args = ap.parse_args(argv)
    if not (args.pareto or args.arch or args.preset):
        ap.error("nothing to train: give --pareto, --arch or --preset")
    with interrupts_raise():
        try:
            return _final(args, argv)
        except KNOWN_ERRORS + (ValueError,) as e:
            return fail(str(e))
        except KeyboardInterrupt as e:  # before any job was planned: nothing to save
            print("[final] interrupted before training started; nothing was saved", file=sys.stderr)
            return getattr(e, "exit_code", 130)


def _parser(doc: str) -> Parser:
    ap = Parser(doc)
    src = ap.add_argument_group("what to train (combine freely)")
    src.add_argument("--pareto", help="pareto.yaml written by a search")
    src.add_argument("--select", default="all", help="with --pareto, comma-separated: all (the front) | front "
                                                     "indices 0,2 | arch_ids | plain | paper (the search's "
                                                     "baselines) | runners-up (rank 2) | matched, shallower, "
                                                     "narrower (unshared nets "
                                                     "of the selected front members' sizes), e.g. "
                                                     "all,plain,paper,matched")
    src.add_argument("--arch", action="append", default=[], help="a spec YAML/JSON file, or a folder of them "
                                                                 "such as scripts/propose.py's specs/ (repeatable)")
    src.add_argument("--preset", action="append", default=[], help="a model preset, e.g. sharesnet164 (repeatable)")
    data = ap.add_argument_group("data (pareto entries keep their dataset unless --dataset is given; "
                                 "the search's limit is never kept unless --limit says so)")
    data.add_argument("--dataset", help="digits | cifar10 | cifar100 | imagefolder (default: cifar10; smoke: digits)")
    data.add_argument("--data-dir", help="where the dataset lives")
    # Retraining trains on train+val: without --limit the split decides only the order the images
    # come in, not which are trained on (tests/test_final_cli.py checks this).
    data.add_argument("--split-seed", type=integer(0), help="seed of the train/val split. Retraining trains on "
                                                            "train+val, so it decides which images are trained on "
                                                            "only with --limit (default: 0, or the search's)")
    data.add_argument("--val-fraction", type=fraction, help="share of the training data the search held out as "
                                                            "val. Retraining trains on train+val, so it decides "
                                                            "which images are trained on only with --limit, which "
                                                            "caps train and val each (default: 0.1, or the "
                                                            "search's)")
    data.add_argument("--limit", type=integer(1), help="cap train and val at N images each (default: none, the "
                                                       "full dataset; smoke: 1000)")
    data.add_argument("--test-limit", type=integer(1), help="cap the test split at N images: smoke checks only "
                                                            "(default: none; smoke: 1000)")
    ap.add_argument("--recipe", default="wrn", help="a named recipe (wrn, he2016, fast) or a recipe YAML file")
    ap.add_argument("--epochs", type=integer(1), help="train this many epochs; multistep milestones scale with "
                                                      "the run (default: the recipe's; smoke: 5)")
    ap.add_argument("--batch-size", type=integer(1), help="override the recipe's batch size (the lr scales with it)")
    ap.add_argument("--seeds", type=integer(1), help="runs per architecture: seeds recipe.seed, +1, ... (default: 1)")
    ap.add_argument("--out", default="results/final", help="output folder; its tables gather every run made there")
    ap.add_argument("--resume", action="store_true", help="continue interrupted jobs, reuse finished ones")
    ap.add_argument("--reuse", action="append", default=[], type=Path,
                    help="another --out folder whose finished runs of the same net, recipe, seed and data count "
                         "here (copied in, marked reused_from) instead of training again (repeatable)")
    ap.add_argument("--gpus", type=integer(0), default=0, help="run jobs in parallel as Ray tasks, one GPU each "
                                                              "(0: one after another in this process)")
    ap.add_argument("--jobs", type=integer(1), default=1, help="on the CPU, train this many jobs at a time as Ray "
                    "tasks, the cores split between them (2 on 2 cores: one thread each, more images/s than one "
                    "job with both)")
    ap.add_argument("--smoke", action="store_true", help="5 epochs, 1 seed, limit and test limit 1000, digits unless "
                                                         "--dataset: a CPU check (flags given still win)")
    return ap


def _final(args, argv: list[str]) -> int:
    from nas.cli.outdir import check_writable
    from nas.retrain.folders import adopt, check_folders
    from nas.retrain.jobs import make_jobs
    from nas.space.problems import SpaceError
    from sharesnet.train.presets import resolve_recipe

    check_writable(args.out, f"--out {args.out}")  # before the data loads and any job starts
    for folder in args.reuse:
        if not folder.is_dir():
            raise SpaceError(f"--reuse {folder}: no such folder (pass a train_final --out folder)")
    if args.smoke:
        for key, value in SMOKE.items():
            setattr(args, key, value if getattr(args, key) is None else getattr(args, key))
    _check_jobs(args.jobs, args.gpus)
    _check_gpus(args.gpus)
    archs, searched = _archs(args)
    recipe = resolve_recipe(args.recipe)
    recipe = recipe.with_epochs(args.epochs) if args.epochs is not None else recipe
    recipe = dataclasses.replace(recipe, batch_size=args.batch_size) if args.batch_size is not None else recipe
    out = Path(args.out)
    jobs = make_jobs(archs, recipe, args.seeds or 1, out, args.test_limit)
    check_folders(jobs, args.resume)
    print(f"[final] {len(jobs)} job(s): {len(archs)} architecture(s) x {args.seeds or 1} seed(s); recipe "
          f"{recipe.name or args.recipe}: {_schedule(recipe)}; {_where(args.gpus, args.jobs)}; output in {out}")
    if args.pareto:  # a front is renumbered when its search is extended: say which numbering this is
        from nas.retrain.jobs import roles_line

        print(roles_line(args.pareto, archs))
    todo = [j for j in jobs if not adopt(j, args.reuse, print)]
    try:
        _train(todo, args, searched)
    except KeyboardInterrupt as e:
        return _interrupted(jobs, e, argv, out)
    from nas.retrain.results import summarise

    tables = summarise(out)
    print(tables.text)
    print(f"[final] done: {len(jobs)} job(s) finished; {out / 'final_results.md'} lists every run made in {out}: "
          f"{tables.runs} run(s) of {tables.nets} net(s) (architecture, recipe and data)")
    return 0


def _archs(args) -> tuple[list, dict]:
    """The architectures with the data each retrains on, and the limits their searches used."""
    from nas.retrain.jobs import from_files, from_pareto, from_preset
    from nas.space.config import DataConfig
    from nas.space.problems import SpaceError

    given = {k: v for k, v in (("data_dir", args.data_dir), ("split_seed", args.split_seed),
                               ("val_fraction", args.val_fraction)) if v is not None}
    data = DataConfig(dataset=args.dataset or "cifar10", limit=args.limit, **given)
    archs, searched = [], {}
    for a in from_pareto(args.pareto, args.select) if args.pareto else []:
        # A search's limit made its trials cheap; the final number must not inherit it unasked.
        final = data if args.dataset else dataclasses.replace(a.data, limit=args.limit, **given)
        if final.dataset == a.data.dataset:
            searched.setdefault(final, set()).add(a.data.limit)
        archs.append(dataclasses.replace(a, data=final))
    archs += [a for p in args.arch for a in from_files(p, data)]
    archs += [from_preset(p, data) for p in args.preset]
    if not archs:  # nothing selected: say so, never "done" on an empty table
        raise SpaceError("nothing to train: the selection is empty")
    return archs, searched


def _train(jobs: list, args, searched: dict) -> None:
    from nas.retrain.jobs import describe_data, load_bundles, run_all

    bundles = load_bundles(jobs)
    for key, bundle in bundles.items():
        print(describe_data(key, bundle, searched.get(key[0], set())))
    # Jobs run here train on these copies; Ray tasks (--gpus, --jobs) load their own.
    run_all(jobs, args.gpus, args.resume, bundles, cpu_jobs=args.jobs)


def _check_gpus(gpus: int) -> None:
    """--gpus N must be GPUs torch can see here: never a silent fall-back to the CPU."""
    if gpus:
        import torch

        from nas.run.resources import Resources, check_local

        check_local(Resources(gpus=gpus), torch.cuda.device_count())


def _check_jobs(jobs: int, gpus: int) -> None:
    """--jobs N: N jobs at a time on the CPU, each with at least one core of its own."""
    from nas.retrain.jobs import cpu_cores
    from nas.space.problems import SpaceError

    if jobs > 1 and gpus:
        raise SpaceError(f"--jobs {jobs} is for the CPU; --gpus {gpus} already runs {gpus} job(s) at a time")
    if jobs > cpu_cores():
        raise SpaceError(f"--jobs {jobs}: this process may use {cpu_cores()} CPU core(s); pass --jobs "
                         f"{cpu_cores()} or fewer")


def _where(gpus: int, jobs: int = 1) -> str:
    if gpus:
        return f"{gpus} job(s) at a time, one GPU each (Ray)"
    if jobs > 1:
        from nas.retrain.jobs import threads_per_job

        return f"{jobs} jobs at a time on the CPU, {threads_per_job(jobs)} thread(s) each (Ray)"
    import torch

    return f"one job after another on {'cuda' if torch.cuda.is_available() else 'the CPU'}"


def _schedule(recipe) -> str:
    """`30 epochs, batch 128, lr x0.2 at epochs 9, 18, 24`; a milestone inside an epoch is given as a
    share of the run, so `--epochs 1` does not read as "lr x0.2 at epochs 0.3"."""
    text = f"{count(recipe.epochs, 'epoch')}, batch {recipe.batch_size}, "
    if recipe.schedule == "multistep":
        from sharesnet.train.schedule import milestone_epochs

        at = milestone_epochs(recipe)
        if not at:
            return text + "constant lr"
        if all(e == int(e) for e in at):
            return text + f"lr x{recipe.gamma:g} at epochs {', '.join(f'{e:g}' for e in at)}"
        shares = ", ".join(f"{e / recipe.epochs:.0%}" for e in at)
        return text + f"lr x{recipe.gamma:g} after {shares} of the run (epochs {', '.join(f'{e:.3g}' for e in at)})"
    # The trainer caps a warm-up at half the run (sharesnet/train/schedule.py): say what it does.
    warm = min(recipe.warmup_epochs, recipe.epochs / 2)
    capped = " (capped at half the run)" if warm < recipe.warmup_epochs else ""
    return text + (f"cosine lr after a warm-up of {count(warm, 'epoch')}{capped}" if warm else "cosine lr")


def _interrupted(jobs: list, e: KeyboardInterrupt, argv: list[str], out: Path) -> int:
    """Say what is saved and how to go on; rebuild the tables for what finished; exit 130 or 143."""
    from nas.retrain.results import summarise

    signum = getattr(e, "signum", signal.SIGINT)
    finished = [j for j in jobs if (j.folder / "result.json").is_file()]
    cut = [(j, _saved_epoch(j.folder / "last.pt")) for j in jobs
           if j not in finished and (j.folder / "last.pt").is_file()]
    untouched = len(jobs) - len(finished) - len(cut)
    err = sys.stderr
    print(f"\n[final] INTERRUPTED by {signal.Signals(signum).name}: {len(finished)} of {len(jobs)} job(s) finished "
          f"(each keeps its result.json); {len(cut)} cut off; {untouched} not started", file=err)
    for job, epoch in cut:
        print(f"[final] {job.label}: cut off; {job.folder / 'last.pt'} keeps epoch {epoch} of {job.recipe.epochs}",
              file=err)
    if finished:
        print(summarise(out).text)
        print(f"[final] {out / 'final_results.md'} and .csv list the finished jobs", file=err)
    print(f"[final] continue with:\n  {resume_command(argv, SCRIPT)}", file=err)
    return getattr(e, "exit_code", 130)


def _saved_epoch(path: Path) -> int | str:
    from sharesnet.train.checkpoint import read

    try:
        return int(read(path)["epoch"])
    except Exception:  # noqa: BLE001 - the report must not fail on a file it only describes
        return "?"
