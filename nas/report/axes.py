"""Axis helpers every plot shares: SI tick labels and readable ticks on a log axis."""
from __future__ import annotations

import math


def si(x: float) -> str:
    """A tick label: 20000 -> 20k, 1500000 -> 1.5M, 2e9 -> 2G."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def log_ticks(lo: float, hi: float) -> list[float]:
    """Tick values for a log axis on [lo, hi], enough to read a value anywhere on it: the
    coarsest 1-2-5-like series with 5 ticks in range (decades alone: 4), else round linear steps."""
    decades = range(math.floor(math.log10(lo)), math.floor(math.log10(hi)) + 1)
    for subs, enough in (((1,), 4), ((1, 2, 5), 5), ((1, 2, 3, 5), 5), (range(1, 10), 5)):
        ticks = [m * 10.0 ** e for e in decades for m in subs if lo <= m * 10.0 ** e <= hi]
        if len(ticks) >= enough:
            return ticks
    import matplotlib.ticker

    return [t for t in matplotlib.ticker.MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
            if lo <= t <= hi]
