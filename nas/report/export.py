"""Pareto export of an experiment folder: pareto.yaml, pareto.csv, pareto.png, a summary.

Works on a finished, running or interrupted search: it reads only the journal and the
resolved space. Failed, rejected, early-stopped and reused rows are not candidates
(a reused row repeats an evaluated architecture). Ranks are 1-based: rank 1 is the
Pareto front, rank 2 the front of what remains, and so on. A front member's `#` is its
index in pareto.yaml's `front` list, the number `scripts/train_final.py --select` takes.
"""
from __future__ import annotations

import shlex
from pathlib import Path
from typing import Callable

import yaml

from nas.report import noise as noise_report
from nas.report.pareto import dominates, normalized_hypervolume
from nas.report.pareto_plot import plot_front
from nas.search import reeval
from nas.search.journal import Journal
from nas.search.rows import Status
from nas.space.config import SCORES, score_of
from sharesnet.files import atomic_write, csv_text
from sharesnet.spec import ArchSpec

UNITS = {"params": "parameters", "flops": "fvcore FLOPs (1 multiply-add = 1 flop), batch 1", "val_acc": "fraction",
         "train_acc": "fraction: the last epoch's running training accuracy"}
WARM_STARTS = {"paper": "The paper's ShaResNet", "plain": "The plain ResNet"}


def export_experiment(exp_dir: str | Path, log: Callable[[str], None] = print) -> dict:
    exp_dir = Path(exp_dir)
    space_file = exp_dir / "space.yaml"
    if not space_file.is_file():
        raise FileNotFoundError(f"{exp_dir}: not an experiment folder (no space.yaml); pass the folder "
                                f"that scripts/search.py created")
    resolved = yaml.safe_load(space_file.read_text())["resolved"]
    objectives = [tuple(o) for o in resolved["objectives"]]
    names, modes = [n for n, _ in objectives], [d for _, d in objectives]
    journal = Journal(exp_dir)
    # A re-evaluated candidate's score is its mean over seeds; the ranking uses that mean.
    score = score_of(names)
    rows = reeval.aggregate(journal.candidates(), journal.rows, resolved["recipe"]["seed"], score)
    ranked = reeval.ranked(rows, objectives)
    front = [r for r in ranked if r["rank"] == 1]
    spread = reeval.noise(ranked)
    base = baselines(journal.rows, ranked)
    judged = noise_report.judge(front, base, spread)
    bounds = reference_bounds(resolved, names)
    hv, hv_info = normalized_hypervolume([[r[n] for n in names] for r in front], modes, names, bounds) \
        if front else (0.0, {})
    doc = {"experiment": str(exp_dir), "objectives": [{"name": n, "direction": d, "unit": UNITS[n]} for n, d in objectives],
           "score": score, "hypervolume": {"value": hv, **hv_info}, "n_candidates": len(rows),
           "noise": _noise(spread, ranked, score),
           "front": [_entry(r, resolved) | j for r, j in zip(front, judged)],
           "baselines": {tag: _entry(r, resolved) for tag, r in base.items()},
           # rank 2, the next front: retrained beside the front (`--select runners-up`), they test
           # the search's ranking on nets it placed lower, not only among its favourites
           "runners_up": [_entry(r, resolved) for r in ranked if r["rank"] == 2]}
    atomic_write(exp_dir / "pareto.yaml", yaml.dump(doc, Dumper=_NoAliases, sort_keys=False))
    atomic_write(exp_dir / "pareto.csv", csv_text([r | _named(r) for r in ranked], csv_columns(score)))
    if rows:
        plot_front(ranked, front, exp_dir / "pareto.png", names)
    where = [where_is(tag, journal.rows, ranked, front, names, modes, resolved.get("warm_start", []))
             for tag in WARM_STARTS]
    reevaluated = sum(r["n_seeds"] > 1 for r in ranked)
    log(summary(front, ranked, hv, where, hv_info.get("objectives"),
                noise_report.lines(front, judged, spread, reevaluated, score)))
    return doc


def _noise(spread, ranked: list[dict], score: str) -> dict:
    """pareto.yaml's statement of the search's own seed noise (null sd: not measured)."""
    return {"seed_std": spread.sd if spread else None, "df": spread.df if spread else None,
            "nets": sum(r["n_seeds"] > 1 for r in ranked), "unit": f"{score}, one seed to the next",
            "rule": "two means differ beyond noise when the gap exceeds the 95% Student-t half-width "
                    "for their numbers of seeds"}


def reference_bounds(resolved: dict, names: list[str]) -> list[tuple[float, float]]:
    """(worst, best) per objective, fixed by the space so that searches of it compare:
    an accuracy spans [0, 1]; a cost's worst is 1.1 x its budget, or 1.1 x the plain base's."""
    from nas.search.candidate import costs
    from nas.space.config import DataConfig

    spec = ArchSpec.from_dict(resolved["base"]).unshared()
    base = dict(zip(("params", "flops"), costs(spec, DataConfig(**resolved["data"]).input_size)))
    budget = {"params": resolved.get("max_params"), "flops": resolved.get("max_flops")}
    return [(0.0, 1.0) if n in SCORES else (1.1 * float(budget[n] or base[n]), 0.0) for n in names]


def baselines(journal_rows: list[dict], ranked: list[dict]) -> dict[str, dict]:
    """The evaluated warm starts (plain, paper) by tag, with their ranks: what a front is compared
    with, so train_final.py can retrain them beside it (`--select all,plain,paper`)."""
    by_arch = {r["arch_id"]: r for r in ranked}
    found = {}
    for row in journal_rows:
        tag = row.get("warm_start")
        if tag in WARM_STARTS and row["status"] == Status.OK and row["arch_id"] in by_arch:
            found.setdefault(tag, by_arch[row["arch_id"]])
    return found


def _named(r: dict) -> dict:
    """An aggregated candidate's score fields under the score's name: `val_acc`, `val_acc_std`,
    `val_acc_seeds` (or train_acc...), as exports have always named them."""
    name = r["score_name"]
    return {name: r["score"], f"{name}_std": r["score_std"], f"{name}_seeds": r["score_seeds"]}


def _entry(r: dict, resolved: dict) -> dict:
    """One front member, buildable on its own: spec, recipe, seeds, measured objectives."""
    return {"rank": r["rank"], "arch_id": r["arch_id"], "trial_id": r["trial_id"], "score": r["score_name"],
            **_named(r), "n_seeds": r["n_seeds"],
            "params": r["params"], "flops": r["flops"], "sharing": r["sharing"], "warm_start": r.get("warm_start"),
            "seed": resolved["recipe"]["seed"], "split_seed": resolved["data"]["split_seed"],
            "data": resolved["data"], "recipe": resolved["recipe"], "spec": r["spec"],
            # the score came from the parent's weights + a fine-tune, not from `recipe` alone
            **({"inherit": resolved["inherit"]} if resolved.get("inherit") else {})}


class _NoAliases(yaml.SafeDumper):
    """Write repeated blocks (data, recipe) in full: each front entry stands alone."""

    def ignore_aliases(self, data):
        return True


def csv_columns(score: str = "val_acc") -> list[str]:
    return ["rank", "arch_id", "trial_id", score, f"{score}_std", "n_seeds", "params", "flops", "sharing", "warm_start"]


def shape(spec: dict) -> tuple[str, str]:
    """(depth, width) of a spec dict as text: blocks per stage `3-3-3`, channels per stage `16-32-64`."""
    return tuple("-".join(str(st[k]) for st in spec["stages"]) for k in ("depth", "width"))


def summary(front: list[dict], ranked: list[dict], hv: float, where: list[str] = (),
            box: list[dict] | None = None, noise: list[str] = ()) -> str:
    if not front:  # no number to show: a hypervolume of 0 would read as a result
        return "\n".join(["Pareto front: empty: no architecture finished its training with a result, so there is "
                          "nothing to rank (trials.csv gives each trial's status and reason)", ""] + list(where))
    lines = [f"Pareto front: {len(front)} of {len(ranked)} evaluated architectures (pareto.csv ranks them all: "
             f"rank 1 = the Pareto front)", hypervolume_text(hv, box) if box else f"Hypervolume {hv:.4f}", "",
             "Columns: # is the index in pareto.yaml's front, which `scripts/train_final.py --select` takes "
             "(0-based); depth = blocks per stage; width = channels per stage.",
             "",
             f"| # | arch_id | {front[0]['score_name']} | params | FLOPs (fvcore, 1 MAC = 1 flop) | depth | width | sharing "
             "| warm start |",
             "|---:|---|---:|---:|---:|---|---|---|---|"]
    for i, r in enumerate(front):
        depth, width = shape(r["spec"])
        lines.append(f"| {i} | `{r['arch_id']}` | {val_text(r)} | {r['params']:,} | {r['flops']:,} | "
                     f"{depth} | {width} | {r['sharing']} | {r.get('warm_start') or ''} |")
    return "\n".join(lines + [""] + list(where) + ([""] + list(noise) if noise else []))


def val_text(r: dict) -> str:
    """`0.6123` for one seed, `0.6123 ± 0.0100 (n=2)` for a re-evaluated candidate."""
    n = r.get("n_seeds", 1)
    return f"{r['score']:.4f}" + (f" ± {r['score_std']:.4f} (n={n})" if n > 1 else "")


def hypervolume_text(hv: float, box: list[dict]) -> str:
    """What the hypervolume measures: its scale and the box it is measured in."""
    def point(key: str) -> str:
        return ", ".join(f"{o['name']} {o[key]:g}" if o["name"] in SCORES else f"{o['name']} {o[key]:,.0f}"
                         for o in box)
    return (f"Hypervolume {hv:.4f}: the share of the box between the reference point ({point('worst')}) and the "
            f"ideal point ({point('best')}) that the front dominates, so 1 would be a perfect net at no cost. The "
            f"box is fixed by the space (a cost's worst is 1.1 x its budget, or x the plain base's), so searches "
            f"of one space compare by it.")


def select_example(n: int) -> str | None:
    """A `--select` of some, not all, of a front of n entries (valid indices only); None for one entry."""
    return None if n < 2 else "1" if n == 2 else f"0,{n - 1}"


def where_is(tag: str, journal_rows: list[dict], ranked: list[dict], front: list[dict], names: list[str],
             modes: list[str], listed: list[str]) -> str:
    """One line: the rank of a warm start (plain or paper) and the front members that dominate it."""
    label = WARM_STARTS[tag]
    tried = [r for r in journal_rows if r.get("warm_start") == tag]
    ok = {r["arch_id"] for r in tried if r["status"] == Status.OK}  # a reused row names the architecture too
    cand = next((r for r in ranked if r["arch_id"] in ok), None)
    if cand is None:
        if tried:
            last = tried[-1]
            why = f"{last['status']} ({last['reason']})" if last.get("reason") else last["status"]
            why = last["reason"] if last["status"] == Status.INVALID and last.get("reason") else why
            return f"{label} was not evaluated: {why}."
        if tag not in listed:
            return f"{label} was not evaluated: it is not in the space's warm_start list."
        return f"{label} was not evaluated (yet): its training has not finished, or the space cannot express it."
    desc = (f"{label} (`{cand['arch_id']}`, {cand['score_name']} {val_text(cand)}, {cand['params']:,} params, "
            f"{cand['flops']:,} FLOPs)")
    if cand["rank"] == 1:
        return f"{desc} is on the front: #{[r['arch_id'] for r in front].index(cand['arch_id'])}."
    point = [cand[n] for n in names]
    better = [f"#{i} `{r['arch_id']}`" for i, r in enumerate(front) if dominates([r[n] for n in names], point, modes)]
    return f"{desc} has rank {cand['rank']}; dominated by {', '.join(better)}."


def final_recipe_args(dataset: str, trial_recipe: dict) -> str:
    """train_final.py's recipe flags for retraining a search's nets: a full recipe, not the trials'
    short one. Trials that were the first epochs of a named schedule (`stop_after`) retrain on
    that whole schedule, whose start ranked them; else `wrn`, the paper's CIFAR recipe (Boulch
    2017, 200 epochs). Digits (1,797 8x8 images) is the offline smoke dataset: there 15 epochs of
    `fast` retrain a front in seconds on a CPU, as in the README's Quickstart."""
    if dataset == "digits":
        return "--recipe fast --epochs 15"
    if trial_recipe.get("stop_after") and trial_recipe.get("name"):
        return f"--recipe {trial_recipe['name']} --epochs {trial_recipe['epochs']}"
    return "--recipe wrn"


def next_steps(exp_dir: Path, interrupted: bool = False) -> str:
    """The lines printed after a search: where the front is, and the command that retrains it."""
    exp_dir = Path(exp_dir)
    pareto, png = exp_dir / "pareto.yaml", exp_dir / "pareto.png"
    doc = (yaml.safe_load(pareto.read_text()) if pareto.is_file() else None) or {}
    front = doc.get("front") or []
    lines = []
    if interrupted:
        lines.append(f"The search was interrupted: this front is partial, drawn from the {doc.get('n_candidates', 0)} "
                     f"architectures evaluated so far. Run the same command with --resume to finish it.")
    if not front:
        return "\n".join(lines + [f"No architecture finished its training, so there is no front to retrain; "
                                  f"see {exp_dir / 'trials.csv'} for each trial's status and reason."])
    resolved = yaml.safe_load((exp_dir / "space.yaml").read_text())["resolved"]
    recipe = final_recipe_args(resolved["data"]["dataset"], resolved["recipe"])
    lines += [f"Front: {pareto} ({len(front)} architecture(s); {pareto.with_suffix('.csv').name} ranks all "
              f"{doc.get('n_candidates', len(front))} evaluated)"]
    lines += [f"Plot:  {png}"] if png.is_file() else []
    if interrupted:  # retraining a partial front is not the next step; finishing the search is
        return "\n".join(lines)
    base = [tag for tag in ("plain", "paper") if tag in (doc.get("baselines") or {})]
    select, also = ",".join(["all"] + base), f" and the {' and '.join(base)} nets beside it" if base else ""
    lines += [f"Next: retrain the front{also} on train+val and measure test accuracy:",
              f"  python scripts/train_final.py --pareto {shlex.quote(str(pareto))} --select {select} {recipe}"]
    some = select_example(len(front))
    lines += [f"  (--select {some} retrains only the entries with those `#` in the table above)"] if some else []
    if doc.get("runners_up"):
        lines += [f"  (add runners-up to --select to retrain the {len(doc['runners_up'])} net(s) of rank 2 too: "
                  f"whether the search's ranking held is then judged beyond its front)"]
    return "\n".join(lines)
