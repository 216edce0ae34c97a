"""The finals' own learning curves as free proxies: how well the running train accuracy after
epoch e of a final retraining ranks the nets, epoch by epoch.

A `prefix` proxy trains the first epochs of the final's schedule. A final retraining has already
trained them, so its metrics.csv tells, at no cost, how rank agreement grows with the prefix's
length: which rung a search should score at. (The final trains on train+val, the search's
prefix on the train split alone: close, not identical.) Seed s's score is held against the mean
test accuracy of the net's *other* seeds, so a late epoch cannot agree with its own run's test
accuracy by construction; a net with one final is left out. The last row scores by one seed's
test accuracy itself: the most any proxy can agree with finals this noisy.
"""
from __future__ import annotations

import csv
import statistics
from dataclasses import dataclass
from pathlib import Path

from nas.bench.fidelity_report import fmt
from nas.report import rankstats


@dataclass(frozen=True)
class Run:
    """One final retraining: its test accuracy and the running train accuracy of every epoch."""
    test_acc: float
    train_acc: tuple[float, ...]


@dataclass(frozen=True)
class CurvePoint:
    epoch: int | None  # None: scored by the final's own test accuracy (the noise ceiling)
    nets: int  # the fewest nets any seed had at this epoch
    kendall_tau: float  # mean over seeds
    spearman: float


def load_runs(final_rows: dict[str, list[dict]]) -> dict[str, dict[int, Run]]:
    """arch_id -> seed -> Run, for every final the report found (fidelity_report.collect) that has
    its metrics.csv beside its result.json."""
    runs: dict[str, dict[int, Run]] = {}
    for arch_id, rows in final_rows.items():
        for row in rows:
            metrics = Path(row["result_file"]).parent / "metrics.csv"
            if not metrics.is_file():
                continue
            with open(metrics, newline="") as f:
                acc = tuple(float(r["train_acc"]) for r in csv.DictReader(f))
            runs.setdefault(arch_id, {})[row["seed"]] = Run(row["test_acc"], acc)
    return runs


def curve(runs: dict[str, dict[int, Run]], epochs: int) -> list[CurvePoint]:
    """Per epoch 1..epochs, then the test accuracy itself: rank agreement of seed s's score with the
    mean test accuracy of the other seeds, averaged over seeds; NaN below 3 nets."""
    seeds = sorted({s for per in runs.values() for s in per})
    points = []
    for epoch in [*range(1, epochs + 1), None]:
        taus, rhos, counts = [], [], []
        for s in seeds:
            x, y = [], []
            for per in runs.values():
                others = [r.test_acc for t, r in per.items() if t != s]
                mine = per.get(s)
                if mine is None or not others:
                    continue
                if epoch is not None and len(mine.train_acc) < epoch:
                    continue
                x.append(mine.test_acc if epoch is None else mine.train_acc[epoch - 1])
                y.append(statistics.mean(others))
            counts.append(len(x))
            if len(x) >= 3:
                taus.append(rankstats.kendall_tau(x, y))
                rhos.append(rankstats.spearman(x, y))
        points.append(CurvePoint(epoch, min(counts, default=0), rankstats.finite_mean(taus),
                                 rankstats.finite_mean(rhos)))
    return points


def markdown(points: list[CurvePoint], epochs: int) -> str:
    """The section of fidelity.md: a table of rank agreement by epoch, with the cost of each rung."""
    if not any(p.nets >= 3 for p in points):
        return ""
    lines = ["### The finals' own curves: rank agreement by epoch, at no cost", "",
             f"Score: the running train accuracy after epoch e of one seed's {epochs}-epoch final (on train+val), "
             "against the mean test accuracy of the net's other seeds, averaged over seeds; nets with one final "
             "are left out. Cost ratio: e / " + f"{epochs}. The last row scores by that seed's test accuracy "
             "itself: the most any proxy can reach against finals this noisy.", "",
             "| score | cost ratio | nets | Kendall tau | Spearman |", "|---|---:|---:|---:|---:|"]
    for p in points:
        what = f"train acc after epoch {p.epoch}" if p.epoch else "test acc (the noise ceiling)"
        cost = f"{p.epoch / epochs:.3f}" if p.epoch else "1.000"
        lines.append(f"| {what} | {cost} | {p.nets} | {fmt(p.kendall_tau)} | {fmt(p.spearman)} |")
    return "\n".join(lines)
