"""Multi-objective math: Pareto dominance, non-dominated sorting and exact hypervolume."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from nas.space.config import SCORES

Points = Sequence[Sequence[float]]
REFERENCE_NOTE = "reference = the worst bound of every objective"


def _signs(directions: Sequence[str]) -> np.ndarray:
    """Return +1 for min objectives and -1 for max objectives (negation turns max into min)."""
    for d in directions:
        if d not in ("max", "min"):
            raise ValueError(f"direction must be 'max' or 'min', got {d!r}")
    return np.array([-1.0 if d == "max" else 1.0 for d in directions])


def _as_array(points: Points, directions: Sequence[str]) -> np.ndarray:
    """Validate directions, shape and NaN; return an (n, m) float array in original units."""
    m = len(_signs(directions))
    arr = np.asarray(points, dtype=float)
    if arr.size == 0:
        return np.empty((0, m))
    if arr.ndim != 2 or arr.shape[1] != m:
        raise ValueError(f"points must have shape (n, {m}), got {arr.shape}")
    bad = np.flatnonzero(np.isnan(arr).any(axis=1))
    if bad.size:
        raise ValueError(f"point at index {int(bad[0])} contains NaN")
    return arr


def nondominated_ranks(points: Points, directions: Sequence[str]) -> list[int]:
    """Non-dominated sorting: 0 = Pareto front, 1 = front once rank 0 is removed, ..."""
    pts = _as_array(points, directions) * _signs(directions)
    # dom[i, j]: i is no worse than j everywhere and strictly better somewhere; identical
    # points never dominate each other, so duplicates share a rank.
    no_worse = (pts[:, None, :] <= pts[None, :, :]).all(axis=-1)
    better = (pts[:, None, :] < pts[None, :, :]).any(axis=-1)
    dom = no_worse & better
    ranks, remaining, rank = np.full(len(pts), -1), np.arange(len(pts)), 0
    # dom is a strict partial order, so every pass peels off at least one point.
    while remaining.size:
        dominated = dom[np.ix_(remaining, remaining)].any(axis=0)
        ranks[remaining[~dominated]] = rank
        remaining = remaining[dominated]
        rank += 1
    return ranks.tolist()


def dominates(a: Sequence[float], b: Sequence[float], directions: Sequence[str]) -> bool:
    """a is no worse than b in every objective and strictly better in one."""
    x, y = (_as_array([p], directions)[0] * _signs(directions) for p in (a, b))
    return bool((x <= y).all() and (x < y).any())


def pareto_front_indices(points: Points, directions: Sequence[str]) -> list[int]:
    """Return the indices of rank-0 (non-dominated) points, in input order."""
    return [i for i, r in enumerate(nondominated_ranks(points, directions)) if r == 0]


def _hv2d(pts: np.ndarray, ref: np.ndarray) -> float:
    """Exact 2-D hypervolume by sweeping x ascending and adding each new horizontal strip."""
    vol, best_y = 0.0, ref[1]
    for x, y in pts[np.lexsort((pts[:, 1], pts[:, 0]))]:
        if y < best_y:
            vol += (ref[0] - x) * (best_y - y)
            best_y = y
    return float(vol)


def _hv(pts: np.ndarray, ref: np.ndarray) -> float:
    """Exact hypervolume of points that strictly dominate ref (minimisation), by HSO slicing."""
    if len(pts) == 0:
        return 0.0
    if pts.shape[1] == 1:
        return float(ref[0] - pts[:, 0].min())
    if pts.shape[1] == 2:
        return _hv2d(pts, ref)
    # Slice along the last axis: between consecutive cut values the cross-section is the
    # (m-1)-D hypervolume of every point whose last coordinate is at or below the slice.
    pts = pts[np.argsort(pts[:, -1], kind="stable")]
    cuts = np.append(pts[1:, -1], ref[-1])
    vol = 0.0
    for k, depth in enumerate(cuts - pts[:, -1]):
        if depth > 0:
            vol += depth * _hv(pts[: k + 1, :-1], ref[:-1])
    return float(vol)


def hypervolume(points: Points, directions: Sequence[str], reference: Sequence[float]) -> float:
    """Exact hypervolume dominated by points w.r.t. reference, in the original units."""
    pts = _as_array(points, directions) * _signs(directions)
    ref = np.asarray(reference, dtype=float) * _signs(directions)
    if ref.shape != (len(directions),) or np.isnan(ref).any():
        raise ValueError(f"reference must be {len(directions)} non-NaN numbers, got {reference!r}")
    # Points that do not strictly beat the reference in every objective span no volume.
    return _hv(pts[(pts < ref).all(axis=1)], ref)


def normalize(
    points: Points, directions: Sequence[str], bounds: Sequence[tuple[float, float]]
) -> tuple[np.ndarray, tuple[float, ...]]:
    """Map objectives to minimisation form in [0, 1] (0 = best bound, 1 = worst bound).

    bounds are (worst, best) per objective in original units; the returned reference
    is (1.0, ..., 1.0): reference = the worst bound of every objective.
    """
    pts = _as_array(points, directions)
    b = np.asarray(bounds, dtype=float).reshape(-1, 2)
    if len(b) != len(directions) or np.any(b[:, 0] == b[:, 1]):
        raise ValueError(f"need one (worst, best) pair per objective, worst != best: {bounds!r}")
    worst, best = b[:, 0], b[:, 1]
    # (x - best) / (worst - best) is direction-agnostic: the sign of the span flips max axes.
    return (pts - best) / (worst - best), (1.0,) * len(directions)


def default_bounds(
    points: Points, directions: Sequence[str], objectives_names: Sequence[str]
) -> list[tuple[float, float]]:
    """Default (worst, best) bounds: an accuracy (val_acc, train_acc) in (0, 1); costs in (1.1 * observed max, 0)."""
    pts = _as_array(points, directions)
    bounds: list[tuple[float, float]] = []
    for j, (name, d) in enumerate(zip(objectives_names, directions, strict=True)):
        if name in SCORES:
            bounds.append((0.0, 1.0))
            continue
        if d != "min":
            raise ValueError(f"no default bounds for max objective {name!r}; pass bounds")
        peak = float(pts[:, j].max()) if len(pts) else 0.0
        # 10% headroom keeps the costliest point inside the reference so it still counts;
        # fall back to 1.0 so a zero span never divides by zero.
        bounds.append((1.1 * peak if peak > 0 else 1.0, 0.0))
    return bounds


def normalized_hypervolume(
    points: Points, directions: Sequence[str], names: Sequence[str],
    bounds: Sequence[tuple[float, float]] | None = None,
) -> tuple[float, dict[str, Any]]:
    """Hypervolume in normalised [0, 1] space plus a plain-float description of the reference.

    Pass fixed `bounds` to compare searches: the default ones follow the observed points."""
    bounds = bounds or default_bounds(points, directions, names)
    norm, ref = normalize(points, directions, bounds)
    # Clipping at the best bound keeps the result in [0, 1]; values past worst add nothing anyway.
    hv = hypervolume(np.clip(norm, 0.0, 1.0), ["min"] * len(directions), ref)
    info = {
        "reference": [float(r) for r in ref],
        "reference_note": REFERENCE_NOTE,
        "objectives": [
            {"name": str(n), "direction": str(d), "worst": float(w), "best": float(b)}
            for n, d, (w, b) in zip(names, directions, bounds, strict=True)
        ],
    }
    return hv, info
