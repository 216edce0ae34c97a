"""Saving a figure the way every result file is written: whole or not at all."""
from __future__ import annotations

import os
from pathlib import Path


def save_figure(fig, path: Path, dpi: float = 110) -> None:
    """Write `fig` to a temporary file beside `path`, then rename it: a reader never sees half a PNG."""
    import matplotlib.pyplot as plt

    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.png")
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    os.replace(tmp, path)
