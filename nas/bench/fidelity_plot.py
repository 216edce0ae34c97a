"""fidelity.png: each proxy's rank agreement against its cost, and the best proxy's scores against the finals."""
from __future__ import annotations

import statistics
from pathlib import Path

from nas.bench.fidelity_plan import Plan
from nas.bench.fidelity_report import Collected, ProxySummary
from nas.report.figures import save_figure


def plot(plan: Plan, c: Collected, summaries: list[ProxySummary], chosen: ProxySummary | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    for i, s in enumerate(summaries):
        x = s.cost_ratio if s.cost_ratio is not None else 0.0
        left.scatter([x] * len(s.per_seed_tau), s.per_seed_tau, color=f"C{i}", alpha=0.5, s=18)
        left.scatter([x], [s.kendall_tau], color=f"C{i}", marker="D", s=50,
                     label=f"{s.name} (mean of {len(s.per_seed_tau)})")
    left.axhline(0, color="grey", lw=0.8)
    left.set(xlabel="cost of one score / one final retraining (training images)",
             ylabel="Kendall tau with the final test accuracy", title="Rank agreement per proxy (dots: one seed each)")
    left.legend(fontsize=8, loc="best")
    truth = {a: statistics.mean(v) for a, v in c.finals.items() if v}
    shown = chosen or summaries[0]  # before any tau, the first proxy's scores
    for arch in plan.archs:
        a = arch.spec.arch_id
        ys = [s for s in c.scores[shown.name][a] if s is not None]
        if a not in truth or not ys:
            continue
        marker = {"baseline": "*", "matched": "s", "front": "o"}.get(arch.role, "^")
        right.errorbar([truth[a]], [statistics.mean(ys)], yerr=[statistics.stdev(ys)] if len(ys) > 1 else None,
                       fmt=marker, ms=8, capsize=3, label=f"{arch.name} ({a[:6]})")
    title = f"Best proxy '{shown.name}': tau {shown.kendall_tau:.2f}" if chosen else \
        f"'{shown.name}' (no proxy ranks 3 nets with a final yet)"
    right.set(xlabel="final test accuracy (mean over seeds)", ylabel=f"proxy '{shown.name}' score (mean ± std)",
              title=title)
    if right.get_legend_handles_labels()[0]:
        right.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    save_figure(fig, path)
