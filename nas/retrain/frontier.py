"""Shared nets against the unshared frontier: does sharing beat simply shrinking the net?

The unshared nets retrained in one folder (the plain net, and shallower or narrower unshared
nets: `--select matched`, or their spec files given with `--arch`) trace test accuracy
against parameters without sharing. A shared net is judged against the most accurate
unshared net with no more parameters than it. More accurate beyond the seed noise: sharing
bought accuracy that shrinking the net does not. Within the noise: a plain net of its size
does as well. Less accurate: a plain net no larger is better, so the shared net is dominated.

Only parameters define "no larger": sharing changes parameters, not FLOPs, and the shallower
unshared nets are also cheaper in FLOPs. The noise model is compare.py's (seed spread pooled
over the folder's nets, 95% Student-t interval of a difference of means).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from nas.retrain import compare


@dataclass(frozen=True)
class Judgement:
    net: str  # the shared net, as the tables label it
    params: int
    reference: str | None  # the most accurate unshared net no larger; None when none was retrained
    reference_params: int | None
    diff: float | None  # mean test accuracy of net minus the reference's
    interval: tuple[float, float] | None  # 95%; None without any seed spread
    verdict: str


NONE_SMALLER = "no unshared net this small was retrained"


def is_unshared(group: list[dict]) -> bool:
    return group[0]["sharing"] == "none"


def judge(groups: list[list[dict]]) -> list[Judgement]:
    """Each shared net against the best unshared net no larger, in the groups' order."""
    noise = compare.pooled_noise(groups)
    unshared = [g for g in groups if is_unshared(g)]
    out = []
    for g in groups:
        if is_unshared(g):
            continue
        net, params = g[0]["label"], g[0]["params"]
        smaller = [u for u in unshared if u[0]["params"] <= params]
        if not smaller:
            out.append(Judgement(net, params, None, None, None, None, NONE_SMALLER))
            continue
        best = max(smaller, key=_mean)
        diff = _mean(g) - _mean(best)
        h = compare.half_width(noise, len(g), len(best)) if noise else None
        interval = (diff - h, diff + h) if h is not None else None
        out.append(Judgement(net, params, best[0]["label"], best[0]["params"], diff, interval, _verdict(interval)))
    return out


def _mean(group: list[dict]) -> float:
    return statistics.mean(r["test_acc"] for r in group)


def _verdict(interval: tuple[float, float] | None) -> str:
    if interval is None:
        return "not judged: one seed each, no spread to judge by"
    if interval[0] > 0:
        return "above the frontier: more accurate than every unshared net no larger"
    if interval[1] < 0:
        return "below the frontier: an unshared net no larger is more accurate"
    return "on the frontier: as accurate as the best unshared net no larger, within noise"


def markdown(groups: list[list[dict]]) -> str:
    """The judgement as a Markdown section; empty when no shared net has an unshared net no larger."""
    rows = judge(groups)
    if not any(j.reference for j in rows):
        return ""
    unshared = sorted((g for g in groups if is_unshared(g)), key=lambda g: g[0]["params"])
    sizes = ", ".join(f"{g[0]['label']} ({g[0]['params']:,})" for g in unshared)
    noise = compare.pooled_noise(groups)
    how = (f"95% intervals from the seed sd pooled over {noise.archs} net(s), {noise.sd:.4f}" if noise
           else "every net has one seed so far: differences are shown, not judged")
    lines = ["## Against the unshared frontier", "",
             f"Does sharing beat simply shrinking the net? Each shared net against the most accurate unshared net "
             f"with no more parameters ({how}). Unshared nets retrained here: {sizes}.", "",
             "| net | params | best unshared net no larger | its params | test accuracy difference (95% interval) "
             "| verdict |", "|---|---:|---|---:|---:|---|"]
    for j in rows:
        if j.reference is None:
            lines.append(f"| {j.net} | {j.params:,} | none | | | {j.verdict} |")
            continue
        ci = f" [{j.interval[0]:+.4f}, {j.interval[1]:+.4f}]" if j.interval else ""
        lines.append(f"| {j.net} | {j.params:,} | {j.reference} | {j.reference_params:,} | {j.diff:+.4f}{ci} "
                     f"| {j.verdict} |")
    counts = {word: sum(j.verdict.startswith(word) for j in rows) for word in ("above", "on", "below")}
    judged = sum(counts.values())
    if judged:
        lines += ["", f"Of {judged} shared net(s) judged: {counts['above']} above the unshared frontier, "
                      f"{counts['on']} on it, {counts['below']} below it."]
    return "\n".join(lines) + "\n"
