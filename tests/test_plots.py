"""Labels and legends cover nothing, on crowded cases (issue 17, item 7).

final_results.png had "front #0" over "paper" in both panels and a FLOPs panel where every
net had the same FLOPs; a small search's pareto.png had its legend over the plain net.
Boxes are measured by the renderer, in the figure's own pixels.
"""
from pathlib import Path

import pytest

from nas.report.pareto_plot import figure as pareto_figure
from nas.report.plot_labels import overlapping
from nas.retrain.plot import figure as final_figure
from nas.retrain.results import _groups, collect
from tests.test_export import ROWS

ROOT = Path(__file__).resolve().parents[1]


def _boxes(fig, artists):
    """Each artist's box in pixels; a label's text alone (an Annotation's own box takes in its leader line)."""
    from matplotlib.text import Text

    renderer = fig.canvas.get_renderer()
    return [Text.get_window_extent(a, renderer) if isinstance(a, Text) else a.get_window_extent(renderer)
            for a in artists]


def _leader_crossings(fig, ax, labels) -> list[str]:
    """Labels whose leader line runs through another label."""
    crossed = []
    for i, t in enumerate(ax.texts):
        if t.arrow_patch is None:
            continue
        path = t.arrow_patch.get_path().interpolated(50)
        pts = t.arrow_patch.get_transform().transform(path.vertices)
        if any(b.contains(*pt) for j, b in enumerate(labels) if j != i for pt in pts):
            crossed.append(t.get_text())
    return crossed


def _marker_box(ax, x, y, radius=5):
    from matplotlib.transforms import Bbox

    px, py = ax.transData.transform((x, y))
    return Bbox.from_extents(px - radius, py - radius, px + radius, py + radius)


def _assert_clear(fig, ax, points):
    """No two labels overlap, none covers a point's marker, all lie inside the axes; ticks do not run together."""
    labels = _boxes(fig, ax.texts)
    assert labels and not overlapping(labels), [t.get_text() for t in ax.texts]
    markers = [_marker_box(ax, x, y) for x, y in points]
    for text, box in zip(ax.texts, labels):
        assert not any(box.overlaps(m) for m in markers), text.get_text()
        assert ax.get_window_extent(fig.canvas.get_renderer()).contains(box.x0, box.y0) and \
            ax.get_window_extent(fig.canvas.get_renderer()).contains(box.x1, box.y1), text.get_text()
    assert not _leader_crossings(fig, ax, labels)
    ticks = _boxes(fig, [t for t in ax.get_xticklabels() if t.get_text()])
    assert not overlapping(ticks)
    assert all(0 <= float(t.get_text()) <= 1 for t in ax.get_yticklabels() if t.get_text()) or \
        ax.get_ylabel() != "test accuracy"  # room above 1 is for labels, not for accuracies that cannot be


def _group(arch_id, role, accs, params, flops, baseline=None):
    return [{"arch_id": arch_id, "role_label": role, "name": arch_id, "baseline": baseline, "test_acc": a,
             "params": params, "flops": flops, "seed": i, "recipe_label": "fast, 15 epochs, batch 256",
             "data_label": "digits"} for i, a in enumerate(accs)]


CROWDED = [  # near-equal params and accuracies, as a front and the paper net can be
    _group("8ad46ee11ce5", "front #0", [0.846, 0.849], 267_930, 59_937_408),
    _group("43e0f6aa8b1b", "paper (rank 5)", [0.8457, 0.8499], 280_000, 69_472_896, "paper"),
    _group("aa00aa00aa00", "front #1", [0.8470, 0.8480], 255_000, 59_900_000),
    _group("86e0a6284c29", "front #2", [0.8293, 0.8297], 147_994, 60_002_944),
    _group("5b5b6eba9fec", "front #4", [0.8295, 0.8321], 140_000, 40_931_968),
    _group("adebe35eddfe", "plain (rank 2)", [0.8531, 0.8553], 464_154, 69_472_896, "plain"),
]


def _final_cases():
    rows, _ = collect(ROOT / "docs/results/cifar10-cpu/final")
    return {"committed CIFAR-10 results": _groups(rows), "crowded": CROWDED}


@pytest.mark.parametrize("case", ["committed CIFAR-10 results", "crowded"])
def test_final_results_labels_cover_no_label_and_no_marker(case):
    import statistics

    groups = _final_cases()[case]
    fig = final_figure(groups)
    fig.canvas.draw()
    assert len(fig.axes) == 2
    for ax, cost in zip(fig.axes, ("params", "flops")):
        assert len(ax.texts) == len(groups)
        _assert_clear(fig, ax, [(g[0][cost], statistics.mean(r["test_acc"] for r in g)) for g in groups])


def test_a_cost_every_net_shares_gets_no_panel():
    same = [[dict(r, flops=2_540_416) for r in g] for g in CROWDED]
    fig = final_figure(same)
    assert len(fig.axes) == 1 and fig.axes[0].get_xlabel() == "parameters"
    assert "every net has 2,540,416 FLOPs (fvcore), so FLOPs get no panel" in fig._suptitle.get_text()


def _ranked(rows, ranks):
    ranked = [r | {"rank": k} for r, k in zip(rows, ranks)]
    return ranked, [r for r in ranked if r["rank"] == 1]


@pytest.mark.parametrize("case", ["small search", "crowded front"])
def test_pareto_png_legend_and_labels_cover_nothing(case):
    rows, ranks = ROWS, [3, 2, 1, 2, 1, 1]
    if case == "crowded front":  # five members within a few percent of each other, beside the baselines
        rows = [r | {"params": 40_000 + 600 * i, "val_acc": 0.99 - 0.001 * i} for i, r in enumerate(ROWS)]
        ranks = [1] * len(rows)
    ranked, front = _ranked(rows, ranks)
    fig = pareto_figure(ranked, front, ["val_acc", "params"])
    fig.canvas.draw()
    legend = _boxes(fig, fig.legends)[0]
    assert not any(legend.overlaps(b) for b in _boxes(fig, fig.axes)), "the legend sits over a panel"
    for ax in fig.axes:
        cost = "params" if ax.get_xlabel() == "parameters" else "flops"
        _assert_clear(fig, ax, [(r[cost], r["val_acc"]) for r in ranked])
