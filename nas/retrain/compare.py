"""Retrained nets against the search's baselines (the plain net and the paper's rule), seed spread included.

The question a retraining answers is "does a searched net dominate the baseline": cost no
more (params and FLOPs) and be more accurate. "More accurate" must survive the seed noise,
and with 2-3 seeds an architecture's own standard deviation is too rough to use alone
(1-2 degrees of freedom). So the seed-to-seed standard deviation is pooled over every
architecture trained with this recipe and data (they share one training procedure, so one
noise level is the model), and a difference of means gets a 95% Student-t interval:
d ± t(0.975, df) * s * sqrt(1/n_a + 1/n_b), with df = sum(n_i - 1).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from nas.report import rankstats
from nas.retrain.roles import BASELINES, Role


@dataclass(frozen=True)
class Noise:
    sd: float  # pooled seed-to-seed standard deviation of test accuracy
    df: int
    archs: int  # architectures with >= 2 seeds that it pools


@dataclass(frozen=True)
class Comparison:
    net: str
    baseline: str
    diff: float  # mean test accuracy of net minus baseline's
    interval: tuple[float, float] | None  # 95%; None without any seed spread
    params_ratio: float
    flops_ratio: float
    verdict: str


def pooled_noise(groups: list[list[dict]]) -> Noise | None:
    """The seed spread pooled over architectures with >= 2 seeds; None when none has two."""
    spread = rankstats.pooled_sd([[r["test_acc"] for r in g] for g in groups])
    if spread is None:
        return None
    return Noise(sd=spread.sd, df=spread.df, archs=sum(len(g) > 1 for g in groups))


def half_width(noise: Noise, n_a: int, n_b: int) -> float:
    return rankstats.half_width(rankstats.Spread(noise.sd, noise.df), n_a, n_b)


def compare(groups: list[list[dict]]) -> list[Comparison]:
    """Every other net against each baseline present (the paper net against the plain one too),
    each front member against its matched unshared nets (nas/space/matched.py), and each proposal
    against the soft net it was read from (scripts/propose.py): is the soft net, unfolded, better
    than its hard-shared children?

    A group's first row carries `baseline` (plain, paper or None) and `label`, the net as the
    tables name it (`arch_id` and role); see nas/final_results.collect."""
    noise = pooled_noise(groups)
    out = []
    for tag in BASELINES:
        bases = [g for g in groups if g[0].get("baseline") == tag]
        for base in bases:  # one, unless the folder holds the baselines of several searches
            against = tag if len(bases) == 1 else f"{tag} `{base[0]['arch_id']}`"
            for g in groups:
                if g is base or g[0].get("baseline") == tag or (tag == "paper" and g[0].get("baseline") == "plain"):
                    continue
                out.append(_compare(g, base, noise, against))
    by_id = {g[0]["arch_id"]: g for g in groups}
    for g in groups:  # each front member against the unshared nets of its size: sharing vs shrinking
        role = _matched(g)
        if role and role.matches in by_id:
            out.append(_compare(by_id[role.matches], g, noise, f"{role.matched} match `{g[0]['arch_id']}`"))
    for g in groups:
        soft = by_id.get(g[0].get("proposed_from") or "")
        if soft is not None:
            out.append(_compare(g, soft, noise, f"its soft net `{soft[0]['arch_id']}`"))
    return out


def _matched(group: list[dict]) -> Role | None:
    """The role of a matched net (an unshared net of a front member's size); None for any other."""
    role = group[0].get("parsed_role")
    return role if role is not None and role.matched else None


def _compare(g: list[dict], base: list[dict], noise: Noise | None, tag: str) -> Comparison:
    diff = statistics.mean(r["test_acc"] for r in g) - statistics.mean(r["test_acc"] for r in base)
    h = half_width(noise, len(g), len(base)) if noise else None
    interval = (diff - h, diff + h) if h is not None else None
    a, b = g[0], base[0]
    return Comparison(a["label"], tag, diff, interval, a["params"] / b["params"], a["flops"] / b["flops"],
                      verdict(interval, (a["params"], a["flops"]), (b["params"], b["flops"])))


def verdict(interval: tuple[float, float] | None, costs: tuple[int, int], base_costs: tuple[int, int]) -> str:
    """Pareto dominance in (accuracy, params, FLOPs), with accuracy judged by its interval."""
    if interval is None:
        return "not judged: one seed each, no spread to judge by"
    acc = "higher" if interval[0] > 0 else "lower" if interval[1] < 0 else "same"
    cheaper = all(c <= b for c, b in zip(costs, base_costs)) and costs != base_costs
    costlier = all(c >= b for c, b in zip(costs, base_costs)) and costs != base_costs
    if costs == base_costs:
        return {"higher": "dominates", "lower": "dominated", "same": "tie (same costs, accuracy within noise)"}[acc]
    if cheaper:
        return {"higher": "dominates", "same": "cheaper, accuracy within noise",
                "lower": "cheaper but less accurate"}[acc]
    if costlier:
        return {"higher": "more accurate but costlier", "same": "dominated (costlier, accuracy within noise)",
                "lower": "dominated"}[acc]
    return {"higher": "more accurate; fewer of one cost, more of the other",
            "same": "accuracy within noise; fewer of one cost, more of the other",
            "lower": "less accurate; fewer of one cost, more of the other"}[acc]


def markdown(groups: list[list[dict]]) -> str:
    """The comparison as a Markdown section; empty when no baseline was retrained."""
    rows = compare(groups)
    if not rows:
        return ""
    noise = pooled_noise(groups)
    if noise:
        sizes = sorted({len(g) for g in groups})
        how = (f"seed-to-seed standard deviation pooled over {noise.archs} architecture(s) with >= 2 seeds: "
               f"{noise.sd:.4f} ({noise.df} degrees of freedom); a difference of two {sizes[-1]}-seed means is "
               f"resolved beyond ± {half_width(noise, sizes[-1], sizes[-1]):.4f} (95%)")
    else:
        how = "every net has one seed so far: differences are shown, not judged"
    lines = ["## Against the baselines", "",
             f"Test accuracy differences with 95% intervals; {how}. Costs are the net's as a share of the "
             f"baseline's. \"Dominates\" means no costlier in params and FLOPs and more accurate beyond the noise."
             + (" A match is an unshared net of the front member's parameter count, shallower or narrower: "
                "does sharing beat simply shrinking the net?" if any(_matched(g) for g in groups) else "")
             + (" A proposal is a hard-shared net read off a soft net's learned coefficients (scripts/propose.py), "
                "set against that soft net unfolded." if any(g[0].get("proposed_from") for g in groups) else ""),
             "", "| net | against | test accuracy difference (95% interval) | params | FLOPs | verdict |",
             "|---|---|---:|---:|---:|---|"]
    for c in rows:
        ci = f" [{c.interval[0]:+.4f}, {c.interval[1]:+.4f}]" if c.interval else ""
        lines.append(f"| {c.net} | {c.baseline} | {c.diff:+.4f}{ci} | {c.params_ratio:.0%} | "
                     f"{c.flops_ratio:.0%} | {c.verdict} |")
    return "\n".join(lines) + "\n"
