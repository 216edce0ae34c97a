"""Pareto export of an experiment folder: pareto.yaml, pareto.csv, pareto.png, a summary.

Works on a finished, running or interrupted search: it reads only the journal and the
resolved space. Failed, rejected, early-stopped and reused rows are not candidates
(a reused row repeats an evaluated architecture).
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Callable

import yaml

from nas.journal import Journal, atomic_write
from sharesnet.spec import ArchSpec
from nas.pareto import dominates, nondominated_ranks, normalized_hypervolume

UNITS = {"params": "parameters", "flops": "fvcore FLOPs (1 multiply-add = 1 flop), batch 1", "val_acc": "fraction"}


def export_experiment(exp_dir: str | Path, log: Callable[[str], None] = print) -> dict:
    exp_dir = Path(exp_dir)
    space_file = exp_dir / "space.yaml"
    if not space_file.is_file():
        raise FileNotFoundError(f"{exp_dir}: not an experiment folder (no space.yaml); pass the folder "
                                f"that scripts/search.py created")
    resolved = yaml.safe_load(space_file.read_text())["resolved"]
    objectives = [tuple(o) for o in resolved["objectives"]]
    names, modes = [n for n, _ in objectives], [d for _, d in objectives]
    rows = Journal(exp_dir).candidates()
    ranks = nondominated_ranks([[r[n] for n in names] for r in rows], modes) if rows else []
    ranked = sorted(({**r, "rank": k} for r, k in zip(rows, ranks)), key=lambda r: (r["rank"], -r["val_acc"]))
    front = [r for r in ranked if r["rank"] == 0]
    bounds = reference_bounds(resolved, names)
    hv, hv_info = normalized_hypervolume([[r[n] for n in names] for r in front], modes, names, bounds) \
        if front else (0.0, {})
    doc = {"experiment": str(exp_dir), "objectives": [{"name": n, "direction": d, "unit": UNITS[n]} for n, d in objectives],
           "hypervolume": {"value": hv, **hv_info}, "n_candidates": len(rows),
           "front": [_entry(r, resolved) for r in front]}
    atomic_write(exp_dir / "pareto.yaml", yaml.dump(doc, Dumper=_NoAliases, sort_keys=False))
    atomic_write(exp_dir / "pareto.csv", _csv(ranked))
    if rows:
        _plot(ranked, exp_dir / "pareto.png", names)
    log(summary(front, ranked, names, modes, hv))
    return doc


def reference_bounds(resolved: dict, names: list[str]) -> list[tuple[float, float]]:
    """(worst, best) per objective, fixed by the space so that searches of it compare:
    val_acc spans [0, 1]; a cost's worst is 1.1 x its budget, or 1.1 x the plain base's."""
    from nas.candidate import costs
    from nas.space import DataConfig

    spec = ArchSpec.from_dict(resolved["base"]).unshared()
    base = dict(zip(("params", "flops"), costs(spec, DataConfig(**resolved["data"]).input_size)))
    budget = {"params": resolved.get("max_params"), "flops": resolved.get("max_flops")}
    return [(0.0, 1.0) if n == "val_acc" else (1.1 * float(budget[n] or base[n]), 0.0) for n in names]


def _entry(r: dict, resolved: dict) -> dict:
    """One front member, buildable on its own: spec, recipe, seeds, measured objectives."""
    return {"rank": r["rank"], "arch_id": r["arch_id"], "trial_id": r["trial_id"], "val_acc": r["val_acc"],
            "params": r["params"], "flops": r["flops"], "sharing": r["sharing"], "warm_start": r.get("warm_start"),
            "seed": resolved["recipe"]["seed"], "split_seed": resolved["data"]["split_seed"],
            "data": resolved["data"], "recipe": resolved["recipe"], "spec": r["spec"]}


class _NoAliases(yaml.SafeDumper):
    """Write repeated blocks (data, recipe) in full: each front entry stands alone."""

    def ignore_aliases(self, data):
        return True


def _csv(ranked: list[dict]) -> str:
    cols = ["rank", "arch_id", "trial_id", "val_acc", "params", "flops", "sharing", "warm_start"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    w.writerows(ranked)
    return buf.getvalue()


def summary(front: list[dict], ranked: list[dict], names: list[str], modes: list[str], hv: float) -> str:
    lines = [f"Pareto front: {len(front)} of {len(ranked)} evaluated architectures; "
             f"normalized hypervolume {hv:.4f}", "",
             "| arch_id | val_acc | params | FLOPs (fvcore, 1 MAC = 1 flop) | sharing | warm start |",
             "|---|---:|---:|---:|---|---|"]
    for r in front:
        lines.append(f"| `{r['arch_id']}` | {r['val_acc']:.4f} | {r['params']:,} | {r['flops']:,} | "
                     f"{r['sharing']} | {r.get('warm_start') or ''} |")
    paper = next((r for r in ranked if r.get("warm_start") == "paper"), None)
    if paper is None:
        lines.append("\nThe paper's ShaResNet was not evaluated in this search.")
    elif paper["rank"] == 0:
        lines.append(f"\nThe paper's ShaResNet (`{paper['arch_id']}`) is on the front.")
    else:
        point = [paper[n] for n in names]
        better = [r["arch_id"] for r in front if dominates([r[n] for n in names], point, modes)]
        lines.append(f"\nThe paper's ShaResNet (`{paper['arch_id']}`, val_acc {paper['val_acc']:.4f}, "
                     f"{paper['params']:,} params) has rank {paper['rank']}; dominated by "
                     f"{', '.join('`' + a + '`' for a in better)}.")
    return "\n".join(lines)


def _plot(ranked: list[dict], path: Path, names: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, cost, label in ((axes[0], "params", "parameters"), (axes[1], "flops", "FLOPs (fvcore, 1 MAC = 1 flop)")):
        rest = [r for r in ranked if r["rank"] > 0]
        front = sorted((r for r in ranked if r["rank"] == 0), key=lambda r: r[cost])
        ax.scatter([r[cost] for r in rest], [r["val_acc"] for r in rest], c="0.7", s=18, label="evaluated")
        ax.plot([r[cost] for r in front], [r["val_acc"] for r in front], "o-", c="tab:red", ms=6,
                label="Pareto front" + ("" if cost in names else f" (in {', '.join(names)})"))
        for tag, marker, color in (("plain", "s", "tab:blue"), ("paper", "*", "tab:green")):
            pts = [r for r in ranked if r.get("warm_start") == tag]
            if pts:
                ax.scatter([r[cost] for r in pts], [r["val_acc"] for r in pts], marker=marker, s=160,
                           facecolors="none", edgecolors=color, linewidths=2,
                           label={"plain": "plain ResNet", "paper": "paper's ShaResNet"}[tag])
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # crowded on short ranges
        ax.set_xlabel(label)
        ax.set_ylabel("validation accuracy")
        ax.grid(alpha=0.3)
    for ax in axes:
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("Validation accuracy against cost")
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
