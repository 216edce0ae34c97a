"""Did the search's ranking hold? Its score (val_acc or train_acc) against the retrained test accuracy.

A search is worth what its ranking is worth after retraining: a front chosen on a score that
retraining reorders was chosen on noise. Each net retrained from a pareto file carries the
search's score for it (nas/retrain/roles.py: the mean over its seeds where the search
re-evaluated it), so the retraining can state the rank correlation over the nets of one
search, next to the per-net ranks it comes from.
"""
from __future__ import annotations

import math
import statistics
from pathlib import Path

from nas.report import rankstats
from nas.retrain.roles import Role

FEW = 8  # below this many nets a rank correlation is too rough to judge a search by


def markdown(groups: list[list[dict]]) -> str:
    """A section per search whose nets were retrained here (one recipe and data); empty when
    fewer than 3 nets of a search carry the search's score."""
    searches: dict[str | None, list[list[dict]]] = {}
    for g in groups:
        role: Role | None = g[0].get("parsed_role")
        if role is not None and role.search is not None:
            searches.setdefault(role.export.experiment if role.export else None, []).append(g)
    return "\n".join(_section(name, gs) for name, gs in searches.items() if len(gs) >= 3)


def _section(experiment: str | None, groups: list[list[dict]]) -> str:
    search = [g[0]["parsed_role"].search for g in groups]
    test = [statistics.mean(r["test_acc"] for r in g) for g in groups]
    val = [s.value for s in search]
    name = search[0].name  # one search ranks by one score
    n = len(groups)
    caution = f" With fewer than {FEW} nets this is a rough figure." if n < FEW else ""
    figures = _agreement(val, test, "undefined: every net has the same score on one side")
    lines = [f"## Did the search's ranking hold?{f' ({Path(experiment).name})' if experiment else ''}", "",
             f"Over the {n} nets retrained from this search: **{figures}** "
             f"between the search's {name} (the mean over its seeds where it re-evaluated a net) and the mean "
             f"retrained test accuracy. 1 is the same order, 0 none.{caution}", "",
             *_ceiling(groups),
             f"| net | search {name} (n seeds) | rank | retrained test accuracy (n seeds) | rank |",
             "|---|---:|---:|---:|---:|"]
    val_rank, test_rank = _ranks(val), _ranks(test)
    for i in sorted(range(n), key=lambda i: test_rank[i]):
        s, g = search[i], groups[i]
        sd = f" ± {s.std:.4f}" if s.n > 1 and s.std is not None else ""
        lines.append(f"| {g[0]['label']} | {s.value:.4f}{sd} ({s.n}) | {val_rank[i]} | {test[i]:.4f} ({len(g)}) | "
                     f"{test_rank[i]} |")
    return "\n".join(lines) + "\n"


def _ceiling(groups: list[list[dict]]) -> list[str]:
    """One seed's retrained test accuracy against another's, over the nets retrained with two or
    more: retraining's own noise caps how well any score can rank nets this close, so the search's
    figure reads against this one. No lines when fewer than 3 nets have two seeds."""
    pairs = [[r["test_acc"] for r in sorted(g, key=lambda r: r["seed"])[:2]] for g in groups if len(g) > 1]
    if len(pairs) < 3:
        return []
    figures = _agreement(*zip(*pairs), "undefined (tied accuracies)")
    return [f"The retraining against itself (each net's first seed against its second, over the {len(pairs)} "
            f"nets with two): {figures}. No score can be expected to rank these nets better than that.", ""]


def _agreement(a, b, undefined: str) -> str:
    """`Spearman x, Kendall tau y` of two paired lists, or `undefined` where a side is constant."""
    rho = rankstats.spearman(a, b)
    return undefined if math.isnan(rho) else f"Spearman {rho:.2f}, Kendall tau {rankstats.kendall_tau(a, b):.2f}"


def _ranks(xs: list[float]) -> list[int]:
    """1 = the highest; ties share the better rank."""
    return [1 + sum(y > x for y in xs) for x in xs]
