"""Does inheritance rank architectures as training from scratch does? The logic of
scripts/bench_inherit.py: pick architectures of a space, train each from scratch under the
trial recipe, train the parent once, fine-tune each inherited candidate, and compare.

Everything trains in this process with the plain trainer (no Ray). Every training keeps
its checkpoint and, once done, a JSON result in the output folder, so a killed run goes
on with --resume where it stopped.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import random
from pathlib import Path
from typing import Any, Callable

from scipy import stats

from nas.bench.runcache import cached_path, run_all, run_cached
from nas.report.pareto import pareto_front_indices
from nas.run.inheritance import largest_parent
from nas.search.candidate import costs, evaluate_costs
from nas.search.rows import Status
from nas.space.codec import decode, encode
from nas.space.config import InheritConfig, SearchSpace
from sharesnet.data import DataBundle
from sharesnet.inherit import inherit_state
from sharesnet.rules import paper_sharing
from sharesnet.spec import ArchSpec
from sharesnet.train import Recipe, load_checkpoint

TAU_GOAL = 0.7  # issue 10: Kendall tau >= 0.7


class RandomChoices:
    """A Suggester that answers every choice from a seeded random stream."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def suggest_categorical(self, name: str, choices: list) -> Any:
        return self.rng.choice(choices)


def pick_archs(space: SearchSpace, n: int, seed: int) -> list[ArchSpec]:
    """The plain and paper nets, then random ones of the space: n distinct, within its budgets."""
    plain = space.base.unshared()
    found: dict[str, ArchSpec] = {}
    fixed = [s for s in (plain, paper_sharing(plain)) if encode(s, space) is not None]
    draws = RandomChoices(seed)
    for attempt in range(200 * n):
        spec = fixed[attempt] if attempt < len(fixed) else decode(draws, space)
        if not evaluate_costs(spec, space).violations:
            found.setdefault(spec.arch_id, spec)
        if len(found) == n:
            break
    return list(found.values())


def finetune_recipe(space: SearchSpace, epochs: int, lr: float | None) -> Recipe:
    """The recipe a search with `inherit: {finetune_epochs: epochs, lr: lr}` gives its candidates."""
    return dataclasses.replace(space, inherit=InheritConfig(epochs, lr)).trial_recipe


def compare(scratch: list[float], inherited: list[float], params: list[int]) -> dict:
    """Rank agreement, and how many of the scratch front (val_acc max, params min) inheritance finds."""
    front_s = set(pareto_front_indices([[a, p] for a, p in zip(scratch, params)], ["max", "min"]))
    front_i = set(pareto_front_indices([[a, p] for a, p in zip(inherited, params)], ["max", "min"]))
    return {"kendall_tau": float(stats.kendalltau(scratch, inherited).statistic),
            "spearman": float(stats.spearmanr(scratch, inherited).statistic),
            "front_overlap": [len(front_s & front_i), len(front_s)]}


def cost_ratio(parent: dict, tuned: list[dict], scratch: list[dict], flops: list[int], parent_flops: int,
               trials: int) -> dict:
    """Training images, inherited (parent + fine-tunes) over scratch; the same weighted by FLOPs; and
    in images again for a search of `trials` such candidates, over which the one parent spreads."""
    tuned_images, scratch_images = sum(t["images"] for t in tuned), sum(s["images"] for s in scratch)
    weighted = (parent["images"] * parent_flops + sum(t["images"] * f for t, f in zip(tuned, flops))) / \
        sum(s["images"] * f for s, f in zip(scratch, flops))
    at_trials = (parent["images"] + trials * tuned_images / len(tuned)) / (trials * scratch_images / len(scratch))
    return {"cost_ratio": (parent["images"] + tuned_images) / scratch_images, "cost_ratio_flops": weighted,
            "cost_ratio_at_trials": at_trials}


def choose(summaries: dict[int, dict]) -> int:
    """The shortest fine-tune that reaches the tau goal, else the longest."""
    good = [ft for ft in sorted(summaries) if summaries[ft]["kendall_tau"] >= TAU_GOAL]
    return good[0] if good else max(summaries)


def last_line(s: dict) -> str:
    a, b = s["front_overlap"]
    return (f"kendall_tau={s['kendall_tau']:.2f} spearman={s['spearman']:.2f} front_overlap={a}/{b} "
            f"cost_ratio={s['cost_ratio']:.2f}")


def searched(space: SearchSpace, data: DataBundle, exp_dir: Path) -> dict[str, tuple[ArchSpec, dict]]:
    """The from-scratch results of a finished search of this space, by arch_id: a search's trainings
    are exactly this bench's scratch trainings (same trial recipe, data and split, seed), so the
    bench may take them instead of training them again. Refused unless recipe and data match."""
    import csv

    import yaml

    resolved = (yaml.safe_load((exp_dir / "space.yaml").read_text()) or {}).get("resolved") or {}
    where = ("data_dir",)  # where the images lie does not change them
    mine = {"recipe": space.recipe.to_dict(),
            "data": {k: v for k, v in dataclasses.asdict(space.data).items() if k not in where}}
    theirs = {"recipe": resolved.get("recipe"),
              "data": {k: v for k, v in (resolved.get("data") or {}).items() if k not in where}}
    if json.loads(json.dumps(mine)) != theirs:
        diff = [f"{k}.{f}" for k in mine for f in mine[k]
                if json.loads(json.dumps(mine[k].get(f))) != (theirs[k] or {}).get(f)]
        raise ValueError(f"--scratch-from {exp_dir}: its search trained with another {', '.join(diff)}; "
                         f"its results are not this space's scratch trainings (use the same space, or drop --scratch-from)")
    per_epoch = (len(data.train) // space.recipe.batch_size) * space.recipe.batch_size  # as the trainer counts
    found = {}
    with (exp_dir / "trials.csv").open() as f:
        for r in csv.DictReader(f):
            if r["status"] == Status.OK and not r["reused_from"]:
                spec = ArchSpec.from_dict(json.loads(r["spec"]))
                found.setdefault(r["arch_id"], (spec, {"arch_id": r["arch_id"], "val_acc": float(r["val_acc"]),
                                                       "images": int(r["epochs"]) * per_epoch, "epochs": int(r["epochs"]),
                                                       "wall_time_s": float(r["wall_time_s"]), "from": str(exp_dir)}))
    return found


def run_bench(space: SearchSpace, data: DataBundle, archs: list[ArchSpec], finetunes: list[int],
              out: Path, device: str | None, lr: float | None, log: Callable[[str], None],
              scratch_done: dict[str, tuple[ArchSpec, dict]] | None = None) -> dict:
    """Train everything (or reuse what is cached in `out`, or a search's results in `scratch_done`);
    return the per-arch rows and per-fine-tune summaries."""
    params, flops = zip(*(costs(s, space.data.input_size) for s in archs))
    scratch = run_all([(lambda wait, r=scratch_done[spec.arch_id][1]: r) if scratch_done and spec.arch_id in scratch_done
                       else functools.partial(run_cached, spec, space.recipe, data, out / "scratch", device, log)
                       for spec in archs])
    parent = largest_parent(space)
    parent_run = run_cached(parent, space.recipe, data, out / "parent", device, log)
    parent_model, _ = load_checkpoint(cached_path(out / "parent", parent, space.recipe, data).with_suffix("") / "last.pt")
    origin = {"parent": parent.arch_id, "recipe": space.recipe.to_dict()}
    summaries, tuned = {}, {}
    for ft in finetunes:
        tuned[ft] = run_all([functools.partial(run_cached, spec, finetune_recipe(space, ft, lr), data,
                                               out / f"finetune-{ft}", device, log,
                                               functools.partial(inherit_state, parent_model, parent, spec), origin)
                             for spec in archs])
        summaries[ft] = {**compare([s["val_acc"] for s in scratch], [t["val_acc"] for t in tuned[ft]], params),
                         **cost_ratio(parent_run, tuned[ft], scratch, flops, costs(parent, space.data.input_size)[1],
                                      space.trials)}
    rows = [{"arch_id": s.arch_id, "shape": s.shape_text(), "sharing": s.sharing_summary(), "params": p,
             "scratch": sc["val_acc"], **{f"finetune_{ft}": tuned[ft][i]["val_acc"] for ft in finetunes}}
            for i, (s, p, sc) in enumerate(zip(archs, params, scratch))]
    return {"rows": rows, "parent": {**parent_run, "spec": parent.to_dict()}, "summaries": summaries}


def table(report: dict, finetunes: list[int], trials: int) -> str:
    """The per-architecture accuracies, then one line per fine-tune length."""
    head = "| arch_id | depth / width | sharing | params | scratch | " + \
        " | ".join(f"inherit +{ft} ep" for ft in finetunes) + " |"
    lines = [head, "|" + "---|" * (5 + len(finetunes))]
    for r in report["rows"]:
        accs = " | ".join(f"{r[f'finetune_{ft}']:.4f}" for ft in finetunes)
        lines.append(f"| `{r['arch_id']}` | {r['shape']} | {r['sharing']} | {r['params']:,} | {r['scratch']:.4f} | {accs} |")
    lines.append("")
    for ft, s in report["summaries"].items():
        lines.append(f"fine-tune {ft} epoch(s): {last_line(s)} (FLOP-weighted: {s['cost_ratio_flops']:.2f}; "
                     f"in images for the space's {trials} trials: {s['cost_ratio_at_trials']:.2f})")
    return "\n".join(lines)
