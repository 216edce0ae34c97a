"""The proposal command line: parse, train the soft net, propose, print the table and what to run next."""
from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from pathlib import Path

from nas.cli.args import KNOWN_ERRORS, Parser, fail, integer
from nas.run.signals import interrupts_raise

SCRIPT = "scripts/propose.py"
SMOKE = {"epochs": 2, "limit": 400}  # a CPU check of the whole path; its proposals mean nothing


def propose_main(argv: list[str], doc: str) -> int:
    ap = Parser(doc)
    ap.add_argument("--space", required=True, help="search-space YAML: its data, base and trial recipe are used")
    ap.add_argument("--out", help="output folder; a finished soft net there is reused, an unfinished one continued "
                                  "(default: experiments/<space name>-proposals, -proposals-smoke with --smoke)")
    ap.add_argument("--templates", type=integer(1), help="templates per soft position (default: half the "
                                                         "position's blocks after the first, rounded up)")
    ap.add_argument("--thresholds", type=_thresholds, help="comma-separated |cos| thresholds, tight to loose "
                                                           "(default: 0.99,0.95,0.9,0.8,0.7,0.6,0.5,0.4,0.3)")
    ap.add_argument("--contiguous", action="store_true", help="cluster runs of consecutive blocks only: masks the "
                                                              "`ranges` pattern expresses, so a search can take them "
                                                              "as warm starts")
    ap.add_argument("--epochs", type=integer(1), help="train the soft net this many epochs (default: the space's "
                                                      "train.epochs; the schedule scales)")
    ap.add_argument("--smoke", action="store_true", help=f"{SMOKE['epochs']} epochs on {SMOKE['limit']} images: "
                                                         f"a check that the path runs, not proposals to use")
    args = ap.parse_args(argv)
    with interrupts_raise():
        try:
            return _propose(args)
        except KNOWN_ERRORS + (ValueError,) as e:
            return fail(str(e))
        except KeyboardInterrupt as e:  # the trainer keeps its last epoch; the same command continues from it
            typed = sys.argv[0] if sys.argv and sys.argv[0].endswith(".py") else SCRIPT
            print(f"[propose] interrupted; the soft net's last saved epoch is kept in {_out(args, None) / 'soft'}; "
                  f"the same command continues from it:\n  python {shlex.join([typed, *argv])}", file=sys.stderr)
            return getattr(e, "exit_code", 130)


def _propose(args) -> int:
    from nas.propose.run import run_propose
    from nas.propose.table import markdown
    from nas.space.parse import load_space
    from sharesnet.similarity import THRESHOLDS

    space = load_space(args.space)
    if args.smoke:
        space = dataclasses.replace(space, data=dataclasses.replace(space.data, limit=SMOKE["limit"]))
    out = _out(args, space)
    doc = run_propose(space, out, templates=args.templates, thresholds=args.thresholds or THRESHOLDS,
                      epochs=args.epochs or (SMOKE["epochs"] if args.smoke else None), contiguous=args.contiguous)
    print(markdown([doc["soft"], *doc["proposals"]], doc["plain"]))
    print(f"[propose] done in {doc['wall_time_s']:.1f} s (the soft net's {doc['soft']['epochs']} epochs took "
          f"{doc['soft']['train_time_s']:.1f} s): {len(doc['proposals'])} proposal(s) in {out}; similarity "
          f"matrices in {out / 'similarity.png'}")
    outside = sum(not p["in_space"] for p in doc["proposals"])
    if outside:
        hint = "" if args.contiguous else "; --contiguous proposes only masks the `ranges` pattern expresses"
        print(f"[propose] {outside} of {len(doc['proposals'])} proposal(s) are not among {args.space}'s patterns: a "
              f"search skips them as warm starts, train_final.py --arch still retrains them{hint}")
    print(_next_steps(out, space))
    return 0


def _out(args, space) -> Path:
    """--out, or experiments/<name>-proposals (-smoke: a smoke run never shares a folder with a real one)."""
    if args.out:
        return Path(args.out)
    from nas.space.parse import load_space

    name = (space or load_space(args.space)).name
    return Path("experiments") / f"{name}-proposals{'-smoke' if args.smoke else ''}"


def _next_steps(out: Path, space) -> str:
    from nas.report.export import final_recipe_args

    data = f"--dataset {space.data.dataset}" + (f" --data-dir {shlex.quote(space.data.data_dir)}"
                                                  if space.data.data_dir else "")
    recipe = final_recipe_args(space.data.dataset, space.recipe.to_dict())  # as a search's next steps
    q = shlex.quote(str(out))
    return "\n".join([
        "Next: retrain the proposals and the soft net on train+val and test them:",
        f"  python scripts/train_final.py --arch {q}/specs --arch {q}/soft.yaml {data} {recipe}",
        "or let a search start from them: add this item to the space's warm_start list (e.g. [plain, paper, ...]):",
        f"  - proposals: {out}"])


def _thresholds(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(t) for t in text.split(","))
    except ValueError:
        values = ()
    if not values or any(not 0.0 <= v <= 1.0 for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers in [0, 1], got {text!r}")
    return values
