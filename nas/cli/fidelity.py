"""The fidelity command line: train what a plan needs (or only report), then the proxy table,
plot and last line; a partial or interrupted run says so and exits non-zero."""
from __future__ import annotations

import sys
from pathlib import Path

from nas.cli.args import KNOWN_ERRORS, Parser, fail, integer, resume_command
from nas.run.signals import interrupts_raise

SCRIPT = "scripts/fidelity.py"
EXIT_PARTIAL = 3  # a report drawn from part of the plan's results
ONLY = {"proxies": "proxy", "finals": "final"}  # --only: the task kind it keeps


def fidelity_main(argv: list[str], doc: str) -> int:
    ap = Parser(doc)
    ap.add_argument("--plan", required=True, help="fidelity plan YAML (see search_spaces/fidelity/)")
    ap.add_argument("--out", required=True, help="folder of every run's result (cached there) and the report")
    ap.add_argument("--resume", action="store_true", help="reuse the results and checkpoints already in --out")
    ap.add_argument("--report", action="store_true", help="train nothing: report from what --out holds "
                                                          "(exit 3 when results are missing)")
    ap.add_argument("--data-dir", help="override the space's data.data_dir")
    ap.add_argument("--threads", type=integer(1), help="torch CPU threads; part of a run's identity, so keep it "
                                                       "fixed within one comparison (default: torch's)")
    ap.add_argument("--device", help="cpu or cuda (default: cuda when torch sees one)")
    ap.add_argument("--only", choices=tuple(ONLY), help="train only the proxy runs, or only the final "
                    "retrainings: fill a short window with short runs, or split the work between machines")
    ap.add_argument("--proxy", action="append", default=[], metavar="NAME",
                    help="train only this proxy's runs (repeatable): fill one proxy's gaps first; the report "
                         "still covers the whole plan")
    args = ap.parse_args(argv)
    if args.proxy and args.only == "finals":
        return fail("--proxy trains proxy runs only; drop --only finals, or --proxy")
    with interrupts_raise():
        try:
            return _fidelity(args, argv)
        except KNOWN_ERRORS + (ValueError,) as e:
            return fail(str(e))


def _fidelity(args, argv: list[str]) -> int:
    import torch

    from nas.bench.fidelity import Runner, plan_tasks
    from nas.bench.fidelity_plan import load_plan

    if args.threads:
        torch.set_num_threads(args.threads)
    plan = load_plan(args.plan, args.data_dir)
    out = Path(args.out)
    _check_out(out, args)
    tasks = [t for t in plan_tasks(plan, out, tuple(args.proxy)) if args.only is None or t.kind == ONLY[args.only]]
    print(f"[fidelity] {len(plan.archs)} nets x {len(plan.proxies)} proxies ({', '.join(p.name for p in plan.proxies)}); "
          f"{sum(t.kind == 'proxy' for t in tasks)} proxy runs and {sum(t.kind == 'final' for t in tasks)} final "
          f"retrainings to find or train; {_threads_text(args, torch)}{_precision_text(args, plan)}; results in {out}")
    if not args.report:
        runner = Runner(plan, out, args.device, print)
        try:
            runner.run(tasks)
        except KeyboardInterrupt as e:
            print(f"[fidelity] INTERRUPTED at run {runner.done + 1} of {len(tasks)} in this process's order (runs "
                  f"found cached count as they are reached; every finished run is kept in {out}); "
                  f"the run in flight keeps its last epoch's checkpoint\n[fidelity] continue with:\n  "
                  f"{resume_command(argv, SCRIPT)}", file=sys.stderr)
            return getattr(e, "exit_code", 130)
    # A report alone takes the runs of whatever thread count made them, if only one did.
    return _report(plan, out, args.threads or (None if args.report else torch.get_num_threads()), argv)


def _threads_text(args, torch) -> str:
    if args.threads or not args.report:
        return f"{torch.get_num_threads()} thread(s)"
    return "the runs' own thread count"


def _precision_text(args, plan) -> str:
    """What this machine trains in: a run's precision is recorded with it and the report counts
    them, since runs gathered on machines with and without native bf16 differ like seeds."""
    if args.report:
        return ""
    from sharesnet.train.engine import pick_device, use_bf16

    return ", bf16 autocast" if use_bf16(plan.final.recipe.precision, pick_device(args.device)) else ", fp32"


def _check_out(out: Path, args) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: is a file, not a folder; pass a folder path")
    if not args.report and out.is_dir() and (out / "runs").is_dir() and not args.resume:
        raise ValueError(f"--out {out}: holds an earlier run; pass --resume to reuse it, or choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{__import__('os').getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise ValueError(f"--out {out}: cannot write there ({e.strerror or e}); pass a writable folder") from None


def _report(plan, out: Path, threads: int | None, argv: list[str]) -> int:
    from nas.bench import fidelity_curve
    from nas.bench.fidelity_plot import plot
    from nas.bench.fidelity_report import best, collect, last_line, markdown, precision_text, summarise
    from sharesnet.files import atomic_write

    c = collect(plan, out, threads)
    if len(c.threads) > 1:
        raise ValueError(f"--out {out}: holds runs made with {sorted(c.threads)} threads; pass --threads N to "
                         f"report one comparison (thread count changes results, like a seed)")
    threads = threads or next(iter(c.threads), None)
    summaries = summarise(plan, c)
    chosen = best(summaries)
    missing = sum(s.missing for s in summaries) + c.missing_finals
    partial = (f"PARTIAL: {missing} score(s) or final retraining(s) missing; the figures below use what is "
               f"there. Continue with: {resume_command([a for a in argv if a != '--report'], SCRIPT)}"
               if missing else "")
    text = markdown(plan, c, summaries)
    head = (f"# Proxy fidelity: {plan.source}\n\nThreads: {threads or 'none found'}. "
            f"Final: recipe {plan.final.recipe.name or 'custom'}, "
            f"{plan.final.recipe.epochs} epochs on train+val, mean test accuracy over {plan.final.seeds} seed(s). "
            f"Cost ratio: training images of one score over one final retraining's.\n\n{precision_text(c)}\n")
    epochs = plan.final.recipe.last_epoch
    curve = fidelity_curve.markdown(fidelity_curve.curve(fidelity_curve.load_runs(c.final_rows), epochs), epochs)
    # Blank lines around the tables: the last line, right below a table, would render as its row.
    parts = [head.rstrip("\n"), partial, text.rstrip("\n"), f"`{last_line(chosen)}`", curve]
    atomic_write(out / "fidelity.md", "\n\n".join(filter(None, parts)) + "\n")
    plot(plan, c, summaries, chosen, out / "fidelity.png")
    print(text)
    if curve:
        print(f"\n{curve}\n")
    print(precision_text(c))
    print(f"[fidelity] report: {out / 'fidelity.md'}, plot: {out / 'fidelity.png'}")
    if partial:
        print(f"[fidelity] {partial}", file=sys.stderr)
    print(last_line(chosen))
    return EXIT_PARTIAL if partial else 0
