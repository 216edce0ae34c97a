"""similarity.png: one heatmap per soft (stage, position) of |cos| between its blocks' coefficients.

Rows and columns are blocks 1..depth-1 (block 0 keeps its own weight and has none). Bright
off-diagonal squares are layers that learned the same filters up to a scale: candidates to share.
"""
from __future__ import annotations

import math
from pathlib import Path

from nas.report.figures import save_figure


def plot_similarity(sims: dict[str, list[list[float]]], path: Path, title: str) -> None:
    """Write the figure; `sims` maps `s1.conv2` to its matrix."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(3, len(sims))
    rows = math.ceil(len(sims) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.3 * rows + 0.6), squeeze=False)
    for ax in axes.flat[len(sims):]:
        ax.axis("off")
    image = None
    for ax, (key, sim) in zip(axes.flat, sims.items()):
        n = len(sim)
        image = ax.imshow(sim, vmin=0.0, vmax=1.0, cmap="viridis")
        ticks = range(n) if n <= 12 else range(0, n, math.ceil(n / 8))
        ax.set_xticks(list(ticks), [str(i + 1) for i in ticks])
        ax.set_yticks(list(ticks), [str(i + 1) for i in ticks])
        ax.set_title(key, fontsize=10)
        ax.set_xlabel("block", fontsize=8)
        if n <= 8:  # small matrices: the values themselves
            for i in range(n):
                for j in range(n):
                    ax.text(j, i, f"{sim[i][j]:.2f}", ha="center", va="center", fontsize=7,
                            color="black" if sim[i][j] > 0.6 else "white")
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="|cos|")
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path)
