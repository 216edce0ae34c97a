"""final_results.png: test accuracy of the retrained nets against parameters and FLOPs.

Each seed is a dot and each architecture a mean with a ±1 std bar, so a reader sees the
spread the table's `mean ± std` summarises; the plain and paper nets are marked as in
pareto.png. The caller passes groups of one recipe and data configuration
(final_results.summarise picks the newest job's).
"""
from __future__ import annotations

import os
import statistics
from pathlib import Path

from nas.export import log_ticks, si
from nas.final_compare import baseline_tag

STYLE = {"plain": ("s", "tab:blue"), "paper": ("*", "tab:green")}


def plot(groups: list[list[dict]], path: Path) -> bool:
    """Write the figure for `groups` (one architecture's seeds each, one setting); False when nothing to draw."""
    if not groups:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for ax, (cost, label) in zip(axes, (("params", "parameters"), ("flops", "FLOPs (fvcore, 1 MAC = 1 flop)"))):
        for g in groups:
            name, accs, x = g[0]["name"], [r["test_acc"] for r in g], g[0][cost]
            marker, color = STYLE.get(baseline_tag(name), ("o", "tab:red"))
            ax.scatter([x] * len(accs), accs, s=12, color=color, alpha=0.6)
            ax.errorbar([x], [statistics.mean(accs)], yerr=[statistics.stdev(accs) if len(accs) > 1 else 0],
                        fmt=marker, ms=12 if marker == "*" else 8, color=color, capsize=4, mfc="none", mew=2)
            left = _crowded_right(x, [h[0][cost] for h in groups])
            ax.annotate(f"{name} (n={len(accs)})", (x, statistics.mean(accs)), xytext=(-8 if left else 6, 4),
                        textcoords="offset points", fontsize=8, ha="right" if left else "left")
        ax.set_xscale("log")
        lo, hi = ax.get_xlim()
        ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(log_ticks(lo, hi)))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: si(v)))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlim(lo, hi * 1.3)  # room for the labels of the costliest nets
        ax.set_xlabel(label)
        ax.set_ylabel("test accuracy")
        ax.grid(alpha=0.3)
    r = groups[-1][0]
    fig.suptitle(f"Retrained: test accuracy (dots: seeds; marker and bar: mean ± std), {r['recipe_label']}, "
                 f"{r['data_label']}", fontsize=10)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return True


def _crowded_right(x: float, xs: list[float]) -> bool:
    """Label on the left when another net sits just to the right (its marker would cover the
    label), unless this is the leftmost net, whose left is the axis edge."""
    return min(xs) < x and any(x < o <= x * 1.25 for o in xs)
