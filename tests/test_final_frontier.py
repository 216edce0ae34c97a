"""Shared nets against the unshared frontier: the best unshared net no larger, judged by the pooled seed noise."""
import pytest

from nas.retrain.frontier import NONE_SMALLER, judge, markdown


def _group(label, accs, params, sharing="s1.conv2=0111"):
    """One net's seeds as nas/retrain/results.collect gives them."""
    return [{"label": label, "arch_id": label, "test_acc": a, "params": params, "flops": 1, "sharing": sharing,
             "seed": i} for i, a in enumerate(accs)]


def _frontier():
    return [_group("plain", [0.850, 0.854], 464_000, "none"), _group("r20", [0.847, 0.851], 270_000, "none"),
            _group("r14", [0.835, 0.839], 172_000, "none")]


def test_a_shared_net_meets_the_most_accurate_unshared_net_with_no_more_params():
    groups = _frontier() + [_group("above", [0.860, 0.864], 300_000), _group("on", [0.848, 0.850], 320_000),
                            _group("below", [0.825, 0.829], 200_000), _group("tiny", [0.80, 0.81], 100_000)]
    got = {j.net: j for j in judge(groups)}
    assert set(got) == {"above", "on", "below", "tiny"}  # unshared nets are the frontier, not judged
    # 300k and 320k: r20 (270k) is the best no larger; the plain net is larger
    assert (got["above"].reference, got["on"].reference, got["below"].reference) == ("r20", "r20", "r14")
    assert got["above"].diff == pytest.approx(0.013)
    assert got["above"].verdict.startswith("above") and got["on"].verdict.startswith("on")
    assert got["below"].verdict.startswith("below")
    assert (got["tiny"].reference, got["tiny"].verdict) == (None, NONE_SMALLER)
    # pooled variance (5 x 0.004**2/2 + 0.002**2/2 + 0.01**2/2) / 7 df; t(0.975, 7) = 2.365; two 2-seed means
    lo, hi = got["above"].interval
    assert hi - lo == pytest.approx(2 * 2.365 * (0.000092 / 7) ** 0.5, abs=1e-5)


def test_the_best_no_larger_is_the_most_accurate_not_the_largest():
    groups = [_group("big-but-worse", [0.80, 0.81], 250_000, "none"), _group("small-better", [0.84, 0.85], 150_000,
                                                                              "none"),
              _group("shared", [0.845, 0.85], 260_000)]
    (j,) = judge(groups)
    assert j.reference == "small-better" and j.verdict.startswith("on")


def test_markdown_names_the_frontier_counts_verdicts_and_is_empty_without_a_smaller_unshared_net():
    groups = _frontier() + [_group("above", [0.860, 0.864], 300_000), _group("tiny", [0.80, 0.81], 100_000)]
    text = markdown(groups)
    assert text.startswith("## Against the unshared frontier")
    assert "r14 (172,000), r20 (270,000), plain (464,000)" in text
    assert "| above | 300,000 | r20 | 270,000 | +0.0130 [" in text
    assert "| tiny | 100,000 | none | | | " + NONE_SMALLER in text
    assert "Of 1 shared net(s) judged: 1 above the unshared frontier, 0 on it, 0 below it." in text
    # only the plain net is unshared and every shared net is smaller: the baselines section says it all
    assert markdown([_group("plain", [0.85, 0.86], 464_000, "none"), _group("paper", [0.84, 0.85], 319_000)]) == ""
    one_seed = markdown([_group("r20", [0.85], 270_000, "none"), _group("shared", [0.86], 300_000)])
    assert "not judged" in one_seed and "+0.0100 |" in one_seed
