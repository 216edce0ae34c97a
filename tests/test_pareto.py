"""Tests for nas.report.pareto: dominance, non-dominated sorting and exact hypervolume."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from nas.report.pareto import (
    default_bounds,
    hypervolume,
    nondominated_ranks,
    normalize,
    normalized_hypervolume,
    pareto_front_indices,
)

ACC_PARAMS = ["max", "min"]  # (val_acc, params)


def _dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """Minimisation dominance, written independently of the module under test."""
    return bool(np.all(a <= b) and np.any(a < b))


def _hv_inclusion_exclusion(pts: np.ndarray, ref: np.ndarray) -> float:
    """Exact minimisation hypervolume via inclusion-exclusion over all point subsets."""
    total = 0.0
    for k in range(1, len(pts) + 1):
        for subset in itertools.combinations(pts, k):
            corner = np.max(subset, axis=0)  # intersection of boxes [p, ref]
            total += (-1) ** (k + 1) * float(np.prod(np.clip(ref - corner, 0.0, None)))
    return total


# --- dominance and ranks -----------------------------------------------------------


def test_two_objectives_min_min() -> None:
    # (1,1) dominates (2,2); (0,3) and (3,0) trade off with (1,1).
    pts = [(2, 2), (1, 1), (0, 3), (3, 0)]
    assert nondominated_ranks(pts, ["min", "min"]) == [1, 0, 0, 0]
    assert pareto_front_indices(pts, ["min", "min"]) == [1, 2, 3]


def test_mixed_directions_acc_max_params_min() -> None:
    # (0.9, 10) beats (0.8, 20) on both; (0.95, 30) is more accurate but bigger.
    pts = [(0.8, 20), (0.9, 10), (0.95, 30)]
    assert nondominated_ranks(pts, ACC_PARAMS) == [1, 0, 0]
    # Flipping both directions flips the winner.
    assert nondominated_ranks(pts, ["min", "max"]) == [0, 1, 0]


def test_three_objectives() -> None:
    # (val_acc max, params min, flops min)
    pts = [
        (0.90, 10, 100),  # front
        (0.90, 10, 120),  # dominated by #0 (only worse in flops)
        (0.85, 5, 200),  # front: smallest params
        (0.80, 6, 250),  # dominated by #2
        (0.95, 50, 500),  # front: best accuracy
    ]
    assert nondominated_ranks(pts, ["max", "min", "min"]) == [0, 1, 0, 1, 0]


def test_duplicates_share_rank() -> None:
    pts = [(1, 1), (1, 1), (2, 2), (2, 2)]
    assert nondominated_ranks(pts, ["min", "min"]) == [0, 0, 1, 1]


def test_equal_in_one_objective_better_in_other() -> None:
    # Same accuracy, fewer params wins; same params, higher accuracy wins.
    assert nondominated_ranks([(0.9, 10), (0.9, 5)], ACC_PARAMS) == [1, 0]
    assert nondominated_ranks([(0.9, 10), (0.8, 10)], ACC_PARAMS) == [0, 1]


def test_layered_set() -> None:
    layer0 = [(1, 4), (2, 2), (4, 1)]
    layer1 = [(2, 5), (3, 3), (5, 2)]
    layer2 = [(6, 6)]
    pts = [layer2[0], layer1[1], layer0[0], layer1[0], layer0[2], layer1[2], layer0[1]]
    assert nondominated_ranks(pts, ["min", "min"]) == [2, 1, 0, 1, 0, 1, 0]


def test_single_objective_ranks_are_sorted_levels() -> None:
    assert nondominated_ranks([[3], [1], [2], [1]], ["min"]) == [2, 0, 1, 0]
    assert nondominated_ranks([[3], [1], [2], [1]], ["max"]) == [0, 2, 1, 2]


def test_ranks_properties_on_random_ties() -> None:
    rng = np.random.default_rng(0)
    pts = rng.integers(0, 4, size=(60, 3)).astype(float)  # small range: many ties
    ranks = np.array(nondominated_ranks(pts, ["min"] * 3))
    for i, j in itertools.permutations(range(len(pts)), 2):
        if ranks[i] == ranks[j]:
            assert not _dominates(pts[i], pts[j])
    for i in np.flatnonzero(ranks > 0):
        prev = np.flatnonzero(ranks == ranks[i] - 1)
        assert any(_dominates(pts[p], pts[i]) for p in prev)


def test_empty_input() -> None:
    assert nondominated_ranks([], ["min", "max"]) == []
    assert pareto_front_indices([], ["min", "max"]) == []
    assert hypervolume([], ["min", "max"], [1.0, 0.0]) == 0.0


def test_nan_raises_with_index() -> None:
    with pytest.raises(ValueError, match="index 1"):
        nondominated_ranks([(0.9, 1), (float("nan"), 2)], ACC_PARAMS)
    with pytest.raises(ValueError, match="index 0"):
        hypervolume([(1.0, float("nan"))], ["min", "min"], [2, 2])


def test_bad_direction_and_shape_raise() -> None:
    with pytest.raises(ValueError):
        nondominated_ranks([(1, 2)], ["min", "up"])
    with pytest.raises(ValueError):
        nondominated_ranks([(1, 2, 3)], ["min", "min"])


# --- hypervolume -------------------------------------------------------------------


def test_hv_2d_staircase() -> None:
    # Strips, sweeping x: (4-1)*(4-3) + (4-2)*(3-2) + (4-3)*(2-1) = 3 + 2 + 1 = 6.
    assert hypervolume([(1, 3), (2, 2), (3, 1)], ["min", "min"], [4, 4]) == pytest.approx(6.0)


def test_hv_dominated_and_duplicate_points_add_nothing() -> None:
    base = hypervolume([(1, 3), (2, 2), (3, 1)], ["min", "min"], [4, 4])
    more = hypervolume([(1, 3), (2, 2), (2, 2), (3, 3), (3, 1)], ["min", "min"], [4, 4])
    assert more == pytest.approx(base)


def test_hv_points_beyond_reference_ignored() -> None:
    # (5, 0) lies past the reference in x; (4, 1) sits on it: both span zero volume.
    pts = [(1, 3), (2, 2), (3, 1), (5, 0), (4, 1)]
    assert hypervolume(pts, ["min", "min"], [4, 4]) == pytest.approx(6.0)
    assert hypervolume([(5, 5)], ["min", "min"], [4, 4]) == 0.0


def test_hv_max_direction() -> None:
    # val_acc max, params min, reference (0.5 acc, 20 params).
    # Box A (0.9, 10): 0.4 * 10 = 4; box B (0.8, 5): 0.3 * 15 = 4.5;
    # overlap (0.8, 10): 0.3 * 10 = 3  ->  4 + 4.5 - 3 = 5.5.
    assert hypervolume([(0.9, 10), (0.8, 5)], ACC_PARAMS, [0.5, 20]) == pytest.approx(5.5)
    # A point less accurate than the reference contributes nothing.
    assert hypervolume([(0.9, 10), (0.8, 5), (0.4, 1)], ACC_PARAMS, [0.5, 20]) == pytest.approx(5.5)


def test_hv_1d() -> None:
    # Best point 1 to reference 5 -> length 4 (min); best 7 down to 2 -> length 5 (max).
    assert hypervolume([[3], [1], [2]], ["min"], [5]) == pytest.approx(4.0)
    assert hypervolume([[3], [7], [2]], ["max"], [2]) == pytest.approx(5.0)


def test_hv_3d_single_box() -> None:
    # (4-1) * (4-2) * (4-3) = 3 * 2 * 1 = 6.
    assert hypervolume([(1, 2, 3)], ["min"] * 3, [4, 4, 4]) == pytest.approx(6.0)


def test_hv_3d_two_overlapping_boxes() -> None:
    # A=(1,2,2): 2*1*1 = 2; B=(2,1,2): 1*2*1 = 2; overlap corner (2,2,2): 1*1*1 = 1 -> 3.
    assert hypervolume([(1, 2, 2), (2, 1, 2)], ["min"] * 3, [3, 3, 3]) == pytest.approx(3.0)


def test_hv_3d_mixed_directions() -> None:
    # Same two boxes with objective 0 negated and declared "max": volume is unchanged.
    pts = [(-1, 2, 2), (-2, 1, 2)]
    assert hypervolume(pts, ["max", "min", "min"], [-3, 3, 3]) == pytest.approx(3.0)


@pytest.mark.parametrize("dims", [3, 4])
def test_hv_matches_inclusion_exclusion(dims: int) -> None:
    rng = np.random.default_rng(dims)
    pts = rng.random((7, dims))
    ref = np.ones(dims)
    assert hypervolume(pts, ["min"] * dims, ref) == pytest.approx(_hv_inclusion_exclusion(pts, ref))


def test_hv_3d_matches_monte_carlo() -> None:
    rng = np.random.default_rng(42)
    pts = rng.random((25, 3))
    samples = rng.random((200_000, 3))
    covered = np.zeros(len(samples), dtype=bool)
    for p in pts:
        covered |= np.all(samples >= p, axis=1)
    # Unit reference box, so the covered fraction estimates the volume (std err ~0.001).
    assert hypervolume(pts, ["min"] * 3, [1, 1, 1]) == pytest.approx(covered.mean(), abs=0.005)


# --- normalisation -----------------------------------------------------------------


def test_normalize_maps_best_to_zero_worst_to_one() -> None:
    bounds = [(0.0, 1.0), (200.0, 0.0)]  # (worst, best): acc 0..1, params 200..0
    norm, ref = normalize([(1.0, 0.0), (0.0, 200.0), (0.75, 50.0)], ACC_PARAMS, bounds)
    assert ref == (1.0, 1.0)
    np.testing.assert_allclose(norm, [[0.0, 0.0], [1.0, 1.0], [0.25, 0.25]])


def test_normalize_rejects_degenerate_bounds() -> None:
    with pytest.raises(ValueError):
        normalize([(0.5, 1.0)], ACC_PARAMS, [(0.0, 1.0), (3.0, 3.0)])


def test_default_bounds() -> None:
    pts = [(0.8, 100.0, 5.0), (0.6, 50.0, 10.0)]
    bounds = default_bounds(pts, ["max", "min", "min"], ["val_acc", "params", "flops"])
    assert bounds == [(0.0, 1.0), pytest.approx((110.0, 0.0)), pytest.approx((11.0, 0.0))]
    with pytest.raises(ValueError):
        default_bounds(pts, ["max", "max", "min"], ["val_acc", "score", "flops"])


def test_normalized_hypervolume_by_hand() -> None:
    # Bounds: acc (0, 1); params (1.1 * 100 = 110, 0). Normalised minimisation points:
    # A (0.8, 100) -> (0.2, 10/11); B (0.6, 50) -> (0.4, 5/11). Reference (1, 1).
    # Sweep: (1-0.2)*(1-10/11) + (1-0.4)*(10/11-5/11) = 0.8/11 + 3/11 = 3.8/11.
    pts = [(0.8, 100.0), (0.6, 50.0)]
    hv, info = normalized_hypervolume(pts, ACC_PARAMS, ["val_acc", "params"])
    assert hv == pytest.approx(3.8 / 11)
    assert info["reference"] == [1.0, 1.0]
    assert info["objectives"][1] == {
        "name": "params",
        "direction": "min",
        "worst": pytest.approx(110.0),
        "best": 0.0,
    }
    json.dumps(info)  # plain floats/strings only


def test_normalized_hypervolume_ideal_point_is_one() -> None:
    # A perfect-accuracy, zero-cost model covers the whole unit box: 1 - 0 uncovered.
    hv, _ = normalized_hypervolume([(1.0, 0.0), (0.5, 10.0)], ACC_PARAMS, ["val_acc", "params"])
    assert hv == pytest.approx(1.0)


def test_normalized_hypervolume_in_unit_interval() -> None:
    rng = np.random.default_rng(7)
    pts = np.column_stack([rng.random(40), rng.random(40) * 1e6, rng.random(40) * 1e9])
    hv, info = normalized_hypervolume(pts, ["max", "min", "min"], ["val_acc", "params", "flops"])
    assert 0.0 < hv < 1.0
    assert all(type(o["worst"]) is float for o in info["objectives"])


def test_normalized_hypervolume_empty() -> None:
    hv, info = normalized_hypervolume([], ACC_PARAMS, ["val_acc", "params"])
    assert hv == 0.0
    assert info["reference"] == [1.0, 1.0]


def test_normalized_hypervolume_clips_values_past_best_bound() -> None:
    # val_acc 1.5 normalises to -0.5 and is clipped to 0 (the best bound); params 10 of
    # worst 11 -> 10/11. Volume = (1 - 0) * (1 - 10/11) = 1/11, not 1.5/11 unclipped.
    hv, _ = normalized_hypervolume([(1.5, 10.0)], ACC_PARAMS, ["val_acc", "params"])
    assert hv == pytest.approx(1 / 11)


def test_names_must_match_directions() -> None:
    with pytest.raises(ValueError):
        normalized_hypervolume([(0.5, 1.0)], ACC_PARAMS, ["val_acc"])
