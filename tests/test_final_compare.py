"""The retrained nets against the baselines: pooled seed noise, intervals, dominance verdicts."""
import pytest

from nas.retrain.compare import compare, half_width, markdown, pooled_noise, verdict


def _group(label, accs, params, flops, baseline=None):
    """One net's seeds as nas/final_results.collect gives them: `label` names it, `baseline` is its tag."""
    return [{"label": label, "baseline": baseline, "arch_id": label, "test_acc": a, "params": params, "flops": flops,
             "seed": i} for i, a in enumerate(accs)]


def test_noise_is_pooled_over_architectures_with_two_or_more_seeds():
    groups = [_group("a", [0.80, 0.82], 1, 1), _group("b", [0.85, 0.85], 1, 1), _group("c", [0.9], 1, 1)]
    noise = pooled_noise(groups)
    assert (noise.df, noise.archs) == (2, 2)
    assert noise.sd == pytest.approx(0.01)  # sqrt((0.0002 + 0) / 2)
    # t(0.975, 2) = 4.303 from the table; two 2-seed means: sqrt(1/2 + 1/2) = 1
    assert half_width(noise, 2, 2) == pytest.approx(0.04303, abs=1e-5)
    assert pooled_noise([_group("a", [0.8], 1, 1)]) is None


@pytest.mark.parametrize("interval,costs,expected", [
    ((0.01, 0.03), (50, 50), "dominates"),
    ((-0.01, 0.01), (50, 100), "cheaper, accuracy within noise"),
    ((-0.03, -0.01), (50, 100), "cheaper but less accurate"),
    ((0.01, 0.03), (100, 100), "dominates"),
    ((-0.01, 0.01), (100, 100), "tie (same costs, accuracy within noise)"),
    ((0.01, 0.03), (150, 100), "more accurate but costlier"),
    ((-0.01, 0.01), (150, 100), "dominated (costlier, accuracy within noise)"),
    ((-0.03, -0.01), (100, 150), "dominated"),
    ((-0.01, 0.01), (50, 150), "accuracy within noise; fewer of one cost, more of the other"),
    (None, (50, 50), "not judged: one seed each, no spread to judge by"),
])
def test_verdict_is_pareto_dominance_with_accuracy_judged_by_its_interval(interval, costs, expected):
    assert verdict(interval, costs, (100, 100)) == expected


def test_every_net_is_compared_with_each_baseline_and_the_paper_with_the_plain_net():
    groups = [_group("front #0", [0.86, 0.87], 200, 50), _group("front #1 (paper)", [0.84, 0.85], 300, 70, "paper"),
              _group("plain (rank 3)", [0.85, 0.86], 460, 70, "plain")]
    rows = {(c.net, c.baseline): c for c in compare(groups)}
    assert set(rows) == {("front #0", "plain"), ("front #1 (paper)", "plain"), ("front #0", "paper")}
    c = rows[("front #0", "paper")]
    assert c.diff == pytest.approx(0.02)
    assert c.params_ratio == pytest.approx(200 / 300)
    lo, hi = c.interval  # sd 0.0070711, df 3: t 3.182 -> ± 0.0225
    assert (lo, hi) == pytest.approx((0.02 - 0.0225, 0.02 + 0.0225), abs=2e-4)
    assert c.verdict == "cheaper, accuracy within noise"


def test_markdown_states_the_noise_model_and_is_empty_without_baselines():
    groups = [_group("front #0", [0.86, 0.87], 200, 50), _group("plain (rank 3)", [0.85, 0.86], 460, 70, "plain")]
    text = markdown(groups)
    assert "pooled over 2 architecture(s)" in text and "(2 degrees of freedom)" in text
    assert "| front #0 | plain | +0.0100 [" in text
    assert markdown([_group("resnet20", [0.9, 0.91], 1, 1)]) == ""
    one_seed = markdown([_group("front #0", [0.86], 200, 50), _group("plain (rank 3)", [0.85], 460, 70, "plain")])
    assert "not judged" in one_seed and "+0.0100 |" in one_seed


def test_two_plain_nets_of_two_searches_are_each_named_by_arch_id():
    groups = [_group("a", [0.86, 0.87], 200, 50), _group("p1", [0.85, 0.86], 460, 70, "plain"),
              _group("p2", [0.84, 0.85], 300, 70, "plain")]
    assert {(c.net, c.baseline) for c in compare(groups)} == {("a", "plain `p1`"), ("a", "plain `p2`")}


def test_each_proposal_is_set_against_the_soft_net_it_was_read_from():
    soft = _group("soft", [0.85, 0.86], 270_666, 70)
    child = [r | {"proposed_from": "soft"} for r in _group("t0.50", [0.80, 0.81], 270_618, 69)]
    orphan = [r | {"proposed_from": "gone"} for r in _group("t0.90", [0.84, 0.85], 346_650, 69)]
    rows = [(c.net, c.baseline, c.verdict) for c in compare([soft, child, orphan])]
    # the soft net was not retrained beside t0.90: nothing to set it against
    assert rows == [("t0.50", "its soft net `soft`", "cheaper but less accurate")]
    assert "read off a soft net's learned coefficients" in markdown([soft, child])
