"""final_results.png: test accuracy of the retrained nets against parameters and FLOPs.

Each seed is a dot and each architecture a mean with a ±1 std bar, so a reader sees the
spread the table's `mean ± std` summarises; the plain and paper nets are marked as in
pareto.png. Each net is labelled by its arch_id and role, placed clear of every other
label and marker (nas/report/plot_labels.py). A cost every net shares gets no panel: it would be
one column of points. The caller passes groups of one recipe and data configuration
(final_results.summarise picks the newest job's).
"""
from __future__ import annotations

import statistics
import textwrap
from pathlib import Path

from nas.report.axes import log_ticks, si
from nas.report.figures import save_figure
from nas.report.plot_labels import Obstacle, place, point

STYLE = {"plain": ("s", "tab:blue"), "paper": ("*", "tab:green")}
COSTS = (("params", "parameters"), ("flops", "FLOPs (fvcore, 1 MAC = 1 flop)"))


def plot(groups: list[list[dict]], path: Path) -> bool:
    """Write the figure for `groups` (one architecture's seeds each, one setting); False when nothing to draw."""
    if not groups:
        return False
    fig = figure(groups)

    save_figure(fig, path, dpi=fig.dpi)  # the dpi the labels were placed at
    return True


def figure(groups: list[list[dict]]):
    """The figure, labels placed; tests measure it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(c, t) for c, t in COSTS if c == "params" or len({g[0][c] for g in groups}) > 1]
    fig, axes = plt.subplots(1, len(panels), figsize=(max(8.0, 6.5 * len(panels)), 4.8), dpi=110, squeeze=False)
    axes = list(axes[0])
    for ax, (cost, label) in zip(axes, panels):
        for g in groups:
            accs, x = [r["test_acc"] for r in g], g[0][cost]
            marker, color = STYLE.get(g[0].get("baseline"), ("o", "tab:red"))
            ax.scatter([x] * len(accs), accs, s=12, color=color, alpha=0.6)
            ax.errorbar([x], [statistics.mean(accs)], yerr=[statistics.stdev(accs) if len(accs) > 1 else 0],
                        fmt=marker, ms=12 if marker == "*" else 8, color=color, capsize=4, mfc="none", mew=2)
        _axes(ax, groups, cost, label)
    r = groups[-1][0]
    same = f"; every net has {r['flops']:,} FLOPs (fvcore), so FLOPs get no panel" if len(panels) == 1 else ""
    title = (f"Retrained: test accuracy (dots: seeds; marker and bar: mean ± std), {r['recipe_label']}, "
             f"{r['data_label']}{same}")
    fig.suptitle(textwrap.fill(title, 95 * len(panels)), fontsize=10)  # a title wider than the figure is cut
    fig.tight_layout()
    for ax, (cost, _) in zip(axes, panels):  # last: labels are placed in the final pixels
        place(ax, [(g[0][cost], statistics.mean(r["test_acc"] for r in g), _name(g)) for g in groups],
              _obstacles(groups, cost), fontsize=8)
    return fig


def _axes(ax, groups: list[list[dict]], cost: str, label: str) -> None:
    import matplotlib.ticker

    ax.set_xscale("log")
    xs = [g[0][cost] for g in groups]
    lo, hi = min(xs) / 1.5, max(xs) * 1.5  # room for labels on either side of the extreme nets
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(_spaced(log_ticks(lo, hi), lo, hi)))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: si(v)))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    accs = [r["test_acc"] for g in groups for r in g]
    span = max(max(accs) - min(accs), 0.01)
    ax.set_ylim(min(accs) - 0.35 * span, max(accs) + 0.35 * span)  # room for labels above and below
    # ... but no tick at an accuracy that cannot be (above 1, below 0): that room is for labels only.
    ax.set_yticks([t for t in ax.get_yticks() if -1e-9 <= t <= 1 + 1e-9])
    ax.set_ylim(min(accs) - 0.35 * span, max(accs) + 0.35 * span)
    ax.set_xlabel(label)
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)


def _spaced(ticks: list[float], lo: float, hi: float, share: float = 0.08) -> list[float]:
    """Ticks at least `share` of the log axis apart, so no two labels (`90k`, `100k`) run together."""
    import math

    kept: list[float] = []
    for t in ticks:
        if not kept or math.log(t / kept[-1]) >= share * math.log(hi / lo):
            kept.append(t)
    return kept


def _name(g: list[dict]) -> str:
    r = g[0]
    who = f"{r['arch_id']} {r['role_label']}" if r.get("role_label") else r["name"]
    return f"{who} (n={len(g)})"


def _obstacles(groups: list[list[dict]], cost: str) -> list[Obstacle]:
    """Every mean marker, seed dot and ±std bar: labels must leave them visible."""
    out = []
    for g in groups:
        accs, x = [r["test_acc"] for r in g], g[0][cost]
        mean, sd = statistics.mean(accs), statistics.stdev(accs) if len(accs) > 1 else 0.0
        out += [point(x, mean, 9)] + [point(x, a, 4) for a in accs] + [Obstacle(x, mean - sd, x, mean + sd, 6)]
    return out
