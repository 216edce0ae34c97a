"""How well does a cheap score rank what an expensive one measures, and how noisy is it?

Pure functions over plain lists, for the fidelity report and the search's re-evaluation:
pooled seed noise, rank correlations, top-k agreement and a "distinguishable" test.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Spread:
    sd: float  # pooled seed-to-seed standard deviation
    df: int  # its degrees of freedom: sum over groups of (n_i - 1)


def pooled_sd(groups: Sequence[Sequence[float]]) -> Spread | None:
    """Seed spread pooled over groups (one group = one architecture's repeated scores); None
    when no group has two values. Pooling is the model when every group runs one procedure."""
    spread = [g for g in groups if len(g) > 1]
    if not spread:
        return None
    df = sum(len(g) - 1 for g in spread)
    ss = sum((len(g) - 1) * statistics.variance(g) for g in spread)
    return Spread(sd=math.sqrt(ss / df), df=df)


def finite_mean(xs: Sequence[float]) -> float:
    """The mean of the values that are not NaN (a correlation over too few nets is NaN); NaN if none."""
    xs = [x for x in xs if not math.isnan(x)]
    return sum(xs) / len(xs) if xs else math.nan


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b (ties counted as scipy does); nan for fewer than 2 points or a constant side."""
    from scipy import stats

    return float(stats.kendalltau(a, b).statistic) if len(a) > 1 else math.nan


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    from scipy import stats

    return float(stats.spearmanr(a, b).statistic) if len(a) > 1 else math.nan


def top_k_agreement(score: Sequence[float], truth: Sequence[float], k: int) -> float:
    """The share of the truth's k best that the score's k best also hold (1 = the same set)."""
    k = min(k, len(score))
    if k < 1:
        return math.nan
    best = lambda xs: set(sorted(range(len(xs)), key=lambda i: -xs[i])[:k])  # noqa: E731
    return len(best(score) & best(truth)) / k


def half_width(spread: Spread, n_a: int, n_b: int) -> float:
    """95% Student-t half-width of a difference of two means of n_a and n_b scores."""
    from scipy.stats import t

    return float(t.ppf(0.975, spread.df)) * spread.sd * math.sqrt(1 / n_a + 1 / n_b)


def distinguishable(mean_a: float, n_a: int, mean_b: float, n_b: int, spread: Spread | None) -> bool | None:
    """Whether two means differ beyond the 95% interval of their difference; None without a spread."""
    if spread is None or n_a < 1 or n_b < 1:
        return None
    return abs(mean_a - mean_b) > half_width(spread, n_a, n_b)
