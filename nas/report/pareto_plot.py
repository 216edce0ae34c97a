"""pareto.png: a search's score against parameters and FLOPs, its front labelled by # (the index
in pareto.yaml's front that train_final.py --select takes), the baselines marked, re-evaluated
members with their seed spread."""
from __future__ import annotations

from pathlib import Path

from nas.report.axes import log_ticks, si
from nas.report.figures import save_figure
from nas.space.config import score_of

SCORE_LABELS = {"val_acc": "validation accuracy", "train_acc": "training accuracy (last epoch)"}


def plot_front(ranked: list[dict], front: list[dict], path: Path, names: list[str]) -> None:
    """pareto.png: written whole or not at all."""
    save_figure(figure(ranked, front, names), path)


def figure(ranked: list[dict], front: list[dict], names: list[str]):
    """The score (validation or training accuracy) against parameters and against FLOPs, front
    members labelled by #."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    key = score_of(names)  # an aggregated row holds its mean score under the score's name
    # A cost every candidate shares (FLOPs when only sharing varies) gets no panel: it would be one column.
    panels = [(c, t) for c, t in (("params", "parameters"), ("flops", "FLOPs (fvcore, 1 MAC = 1 flop)"))
              if c in names or len({r[c] for r in ranked}) > 1] or [("params", "parameters")]
    fig, axes = plt.subplots(1, len(panels), figsize=(max(8, 6 * len(panels)), 4.8), squeeze=False)
    axes = list(axes[0])
    rest = [r for r in ranked if r["rank"] > 1]
    for ax, (cost, label) in zip(axes, panels):
        line = sorted(front, key=lambda r: r[cost])
        ax.scatter([r[cost] for r in rest], [r[key] for r in rest], c="0.7", s=18, label="evaluated")
        ax.plot([r[cost] for r in line], [r[key] for r in line], "o-", c="tab:red", ms=6,
                label="Pareto front, labelled by #" + ("" if cost in names else f" (in {', '.join(names)})"))
        noisy = [r for r in line if r.get("n_seeds", 1) > 1]
        if noisy:  # a re-evaluated member: its mean, ±1 seed std
            ax.errorbar([r[cost] for r in noisy], [r[key] for r in noisy], yerr=[r["score_std"] for r in noisy],
                        fmt="none", ecolor="tab:red", alpha=0.6, capsize=3, label="±1 seed std (re-evaluated)")
        for tag, marker, color in (("plain", "s", "tab:blue"), ("paper", "*", "tab:green")):
            pts = [r for r in ranked if r.get("warm_start") == tag]
            if pts:
                ax.scatter([r[cost] for r in pts], [r[key] for r in pts], marker=marker, s=160,
                           facecolors="none", edgecolors=color, linewidths=2,
                           label={"plain": "plain ResNet", "paper": "paper's ShaResNet"}[tag])
        ax.set_xscale("log")
        ax.margins(0.1, 0.15)  # room for the labels of the outermost points
        lo, hi = ax.get_xlim()
        ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(log_ticks(lo, hi)))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: si(x)))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # the major labels suffice
        ax.set_xlim(lo, hi)
        ax.set_xlabel(label)
        ax.set_ylabel(SCORE_LABELS[key])
        ax.grid(alpha=0.3)
    # One legend below the panels: inside an axes, even at loc="best", it covered a marker.
    handles, texts = axes[-1].get_legend_handles_labels()
    fig.legend(handles, texts, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle(f"{SCORE_LABELS[key].capitalize()} against cost (# = index in pareto.yaml's front, "
                 "as train_final.py --select takes it)", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    for ax, (cost, _) in zip(axes, panels):  # last: labels are placed in the final pixels
        _label_front(ax, front, ranked, cost, key)
    return fig


def _label_front(ax, front: list[dict], ranked: list[dict], cost: str, key: str) -> None:
    """Write each front member's # beside its point, clear of other labels and markers; members at
    one point share a label."""
    from nas.report.plot_labels import place, point

    at: dict[tuple, list[int]] = {}
    for i, r in enumerate(front):
        at.setdefault((r[cost], r[key]), []).append(i)
    big = [point(r[cost], r[key], 10) for r in ranked if r.get("warm_start") in ("plain", "paper")]
    dots = [point(r[cost], r[key], 4, weight=1) for r in ranked]
    place(ax, [(x, y, ",".join(f"#{i}" for i in idx)) for (x, y), idx in at.items()], big + dots, fontsize=9,
          fontweight="bold", color="tab:red",
          bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
