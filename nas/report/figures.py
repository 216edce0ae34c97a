"""Saving a figure the way every result file is written: whole or not at all."""
from __future__ import annotations

from pathlib import Path

from sharesnet.files import replace_atomically


def save_figure(fig, path: Path, dpi: float = 110) -> None:
    """Write `fig` to a temporary file beside `path`, then rename it: a reader never sees half a PNG."""
    import matplotlib.pyplot as plt

    try:
        replace_atomically(path, lambda fh: fig.savefig(fh, dpi=dpi, format=path.suffix.lstrip(".") or "png"))
    finally:
        plt.close(fig)
