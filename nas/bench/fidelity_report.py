"""The fidelity report: per proxy, how noisy its score is and how well it ranks the finals.

Reads what the runner left in <out> (and the plan's reuse folders); trains nothing. A proxy's
score for a net is its val_acc (or the mean over `average` seeds); it has `seeds` such scores
per net. Per proxy: the seed spread of the score pooled over nets; Kendall tau, Spearman and
top-k agreement against the nets' mean final test accuracy, computed per realisation and
averaged (the fidelity one search run can expect); and the cost of one score in training
images over one final retraining's.
"""
from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from nas.bench.fidelity import Task, find_final
from nas.bench.fidelity_plan import Arch, Plan, Proxy, params_of
from nas.report import rankstats


@dataclass(frozen=True)
class ProxySummary:
    name: str
    nets: tuple[int, ...]  # per realisation: nets with a score and a final
    kendall_tau: float
    spearman: float
    top_k: float
    per_seed_tau: tuple[float, ...]
    seed_std: float | None
    cost_ratio: float | None
    missing: int  # scores not (yet) available


@dataclass
class Collected:
    scores: dict[str, dict[str, list[float | None]]]  # proxy -> arch_id -> one score per realisation
    finals: dict[str, list[float]]  # arch_id -> test accuracies
    images: dict[str, list[int]]  # proxy -> training images of each run found
    final_images: list[int]
    threads: set[int]
    missing_finals: int
    # "proxy runs" / "finals" -> how many were trained in each precision. bf16 autocast (on a CPU
    # or GPU with native bf16) and fp32 round differently, which moves a score like a seed does;
    # a comparison gathered on two kinds of machine mixes them, and the report must say so.
    precisions: dict[str, Counter] = field(default_factory=lambda: {"proxy runs": Counter(), "finals": Counter()})
    final_rows: dict[str, list[dict]] = field(default_factory=dict)  # arch_id -> the finals found (result_file too)


def index_runs(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def find_run(runs: list[dict], task: Task, threads: int | None) -> dict | None:
    """The cached result of a proxy task: same net, recipe (its label aside), data facts and threads."""
    want = task.proxy.recipe_for(task.seed).to_dict()
    want.pop("name")
    data = task.proxy.data
    for r in runs:
        rec = dict(r["recipe"])
        rec.pop("name", None)
        d = r["data"]
        if (r["arch_id"] == task.arch.spec.arch_id and rec == want and d["name"] == data.dataset
                and d["limit"] == data.limit and d["val_fraction"] == data.val_fraction
                and d["split_seed"] == data.split_seed and (threads is None or r.get("threads") == threads)):
            return r
    return None


def collect(plan: Plan, out: Path, threads: int | None) -> Collected:
    runs = index_runs(out / "runs")
    c = Collected({}, {}, {}, [], set(), 0)
    used: dict[int, dict] = {}  # each run found, once: proxies that train alike (mean2, today) share runs
    for proxy in plan.proxies:
        c.scores[proxy.name], c.images[proxy.name] = {}, []
        for arch in plan.archs:
            per = []
            for group in proxy.seed_groups():
                found = [find_run(runs, Task("proxy", arch, s, proxy), threads) for s in group]
                scored = [proxy.score_of(r) for r in found if r]
                per.append(statistics.mean(scored) if all(found) and None not in scored else None)
                for r in filter(None, found):
                    c.images[proxy.name].append(r["images"])
                    c.threads.add(r.get("threads"))
                    used[id(r)] = r
            c.scores[proxy.name][arch.spec.arch_id] = per
    c.precisions["proxy runs"].update(r.get("precision", "unknown") for r in used.values())
    for arch in plan.archs:
        rows = [find_final(plan, arch, k, out) for k in range(plan.final.seeds)]
        c.missing_finals += rows.count(None)
        c.final_rows[arch.spec.arch_id] = [r for r in rows if r]
        c.finals[arch.spec.arch_id] = [r["test_acc"] for r in rows if r]
        c.precisions["finals"].update(r.get("precision", "unknown") for r in rows if r)
        bs = plan.final.recipe.batch_size
        c.final_images += [r["epochs"] * (r["train_images"] // bs) * bs for r in rows if r]
    return c


def summarise(plan: Plan, c: Collected) -> list[ProxySummary]:
    out = []
    truth = {a: statistics.mean(v) for a, v in c.finals.items() if v}
    final_cost = statistics.mean(c.final_images) if c.final_images else None
    for proxy in plan.proxies:
        scores = c.scores[proxy.name]
        taus, rhos, tops, counts = [], [], [], []
        for j in range(proxy.seeds):  # each realisation over the nets it has (a partial run has fewer)
            nets = [a for a in truth if scores[a][j] is not None]
            counts.append(len(nets))
            if len(nets) < 3:
                continue
            x, y = [scores[a][j] for a in nets], [truth[a] for a in nets]
            taus.append(rankstats.kendall_tau(x, y))
            rhos.append(rankstats.spearman(x, y))
            tops.append(rankstats.top_k_agreement(x, y, plan.top_k))
        spread = rankstats.pooled_sd([[s for s in v if s is not None] for v in scores.values()])
        images = c.images[proxy.name]
        cost = proxy.average * statistics.mean(images) / final_cost if images and final_cost else None
        missing = sum(s is None for v in scores.values() for s in v)
        out.append(ProxySummary(proxy.name, tuple(counts), rankstats.finite_mean(taus), rankstats.finite_mean(rhos),
                                rankstats.finite_mean(tops), tuple(taus),
                                spread.sd if spread else None, cost, missing))
    return out


def best(summaries: list[ProxySummary]) -> ProxySummary | None:
    """The proxy with the highest mean Kendall tau (a tie goes to the cheaper one); None before
    any proxy has a rank correlation (fewer than 3 nets with a score and a final)."""
    ok = [s for s in summaries if not math.isnan(s.kendall_tau)]
    return max(ok, key=lambda s: (s.kendall_tau, -(s.cost_ratio or 0.0))) if ok else None


def last_line(s: ProxySummary | None) -> str:
    if s is None:
        return "proxy=none kendall_tau=n/a spearman=n/a seed_std=n/a cost_ratio=n/a (no proxy has 3 nets with a final yet)"
    return (f"proxy={s.name} kendall_tau={fmt(s.kendall_tau)} spearman={fmt(s.spearman)} "
            f"seed_std={fmt(s.seed_std, 4)} cost_ratio={fmt(s.cost_ratio, 3)}")


def markdown(plan: Plan, c: Collected, summaries: list[ProxySummary]) -> str:
    """The proxy table, then every net's final accuracy and its score under each proxy."""
    k = plan.top_k
    lines = [f"| proxy | what | nets (per realisation) | Kendall tau (per realisation) | Spearman | top-{k} | seed std "
             "| cost ratio |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for s, p in zip(summaries, plan.proxies):
        per, nets = ", ".join(fmt(t) for t in s.per_seed_tau), ", ".join(map(str, s.nets))
        lines.append(f"| {s.name} | {describe(p)} | {nets} | {fmt(s.kendall_tau)} ({per}) | {fmt(s.spearman)} | "
                     f"{fmt(s.top_k)} | {fmt(s.seed_std, 4)} | {fmt(s.cost_ratio, 3)} |")
    names = [p.name for p in plan.proxies]
    lines += ["", "| net | arch_id | depth / width | sharing | params | final test acc (n) | " +
              " | ".join(names) + " |", "|---|---|---|---|---:|---:|" + "---:|" * len(names)]
    for arch in plan.archs:
        a = arch.spec.arch_id
        cells = [_mean_sd([s for s in c.scores[n][a] if s is not None]) for n in names]
        lines.append(f"| {arch.name} | `{a}` | {arch.spec.shape_text()} | {arch.spec.sharing_summary()} | "
                     f"{params(arch):,} | {_mean_sd(c.finals[a])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def precision_text(c: Collected) -> str:
    """`Precision: proxy runs bf16 18, fp32 9; finals bf16 10, fp32 1.` and, when they are
    mixed, what that means for the figures."""
    parts = [f"{group} " + ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))
             for group, counts in c.precisions.items() if counts]
    text = f"Precision: {'; '.join(parts) or 'no runs found'}."
    kinds = set().union(*c.precisions.values())
    if len(kinds) > 1:
        text += (" MIXED: the runs were gathered on machines of two kinds (bf16 autocast where the hardware "
                 "has native bf16, fp32 elsewhere). Rounding differs between them as it does between seeds, "
                 "so the seed spread includes it; a systematic shift would bias nets whose runs differ in precision.")
    return text


def describe(p: Proxy) -> str:
    """`9 ep x 10,000 img, val 10%, lr 0.1, ls 0.1, mean of 2`; `first 4 of 15 ep x ...` for a prefix."""
    images = f"{p.data.limit:,}" if p.data.limit else "all"
    epochs = f"first {p.recipe.stop_after} of {p.recipe.epochs}" if p.recipe.stop_after else f"{p.recipe.epochs}"
    text = (f"{epochs} ep x {images} img, val {p.data.val_fraction:.0%}, lr {p.recipe.lr:g}, "
            f"ls {p.recipe.label_smoothing:g}")
    text += f", mean of {p.average} seeds" if p.average > 1 else ""
    return text + (", score: train acc" if p.score == "train_acc" else "")


def params(arch: Arch) -> int:
    return params_of(arch.spec)


def _mean_sd(xs: list[float]) -> str:
    if not xs:
        return "-"
    sd = f" ± {statistics.stdev(xs):.4f}" if len(xs) > 1 else ""
    return f"{statistics.mean(xs):.4f}{sd} ({len(xs)})"


def fmt(x: float | None, digits: int = 2) -> str:
    """`0.50`; `n/a` for a missing or NaN figure."""
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"
