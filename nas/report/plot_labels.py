"""Point labels that cover no other label and no marker, and stay inside the axes.

A fixed offset (or one flipped left when a neighbour sits to the right) still let labels
of close points overlap ("front #0" over "paper" in final_results.png). Here each label
tries positions around its point, nearest first, and takes the first whose box is clear
of every label placed so far, of every marker and of the axes' edges. A label that had
to move beyond the nearest ring gets a thin leader line to its point, and that line must
cross no label either. Greedy placement depends on the order, so a few orders are tried
and the layout that covers least is kept. Call it last, after the limits, scales and
layout are final: boxes are in pixels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# (dx, dy) in units of a ring's distance, and the alignment that keeps the text on that side.
_AROUND = ((1, 0.7, "left", "bottom"), (1, -0.7, "left", "top"), (-1, 0.7, "right", "bottom"),
           (-1, -0.7, "right", "top"), (0, 1.4, "center", "bottom"), (0, -1.4, "center", "top"),
           (1, 0, "left", "center"), (-1, 0, "right", "center"))
_RINGS = (6, 14, 24, 36, 50)  # distances in points, tried nearest first
_LABEL, _OUTSIDE, _CROSSING = 10.0, 10.0, 1000.0  # costs: per pixel covered, per pixel outside, per leader hit


@dataclass(frozen=True)
class Obstacle:
    """Something a label must not cover: a box in data coordinates, widened by `pad` pixels."""
    x0: float
    y0: float
    x1: float
    y1: float
    pad: float = 5.0
    weight: float = 5.0  # cost per pixel covered, when no position is clear


@dataclass(frozen=True)
class _Box:
    x0: float
    y0: float
    x1: float
    y1: float

    def contains(self, x: float, y: float) -> bool:
        return self.x0 <= x <= self.x1 and self.y0 <= y <= self.y1


def point(x: float, y: float, radius_px: float = 6.0, weight: float = 5.0) -> Obstacle:
    return Obstacle(x, y, x, y, radius_px, weight)


def place(ax, items: list[tuple[float, float, str]], obstacles: list[Obstacle], **text_kw) -> list:
    """Annotate each (x, y, text) of `items` on `ax`; return the Text artists, in the order of `items`."""
    renderer = ax.figure.canvas.get_renderer()
    frame = _box(ax.get_window_extent(renderer))
    scale = ax.figure.dpi / 72.0  # points to pixels
    anchors = [tuple(ax.transData.transform((x, y))) for x, y, _ in items]
    sizes = []
    for x, y, text in items:  # a label's size does not depend on where it goes: measure it once
        probe = ax.annotate(text, (x, y), **text_kw)
        b = probe.get_window_extent(renderer)
        probe.remove()
        sizes.append((b.width + 2, b.height + 2))
    blocked = [(_pixels(ax, o), o.weight) for o in obstacles]
    orders = {tuple(o) for o in (_crowded_first(anchors), range(len(items)), reversed(range(len(items))),
                                 sorted(range(len(items)), key=lambda i: anchors[i]))}
    best = min((_layout(order, anchors, sizes, blocked, frame, scale) for order in orders), key=lambda lay: lay[0])
    texts = []
    for (x, y, text), (ring, (dx, dy, ha, va)) in zip(items, best[1]):
        leader = {"arrowprops": {"arrowstyle": "-", "color": "0.45", "lw": 0.6, "shrinkA": 0, "shrinkB": 5}} \
            if ring > _RINGS[0] else {}
        texts.append(ax.annotate(text, (x, y), xytext=(dx * ring, dy * ring), textcoords="offset points", ha=ha,
                                 va=va, **leader, **text_kw))
    return texts


def _layout(order, anchors, sizes, blocked, frame, scale) -> tuple[float, list]:
    """Greedy placement in `order`: (total cost, (ring, position) per item in item order)."""
    chosen: dict[int, tuple] = {}
    labels: list[_Box] = []
    lines: list[tuple[float, float]] = []  # points of the leader lines drawn so far
    total = 0.0
    for i in order:
        best = None
        for ring in _RINGS:
            for pos in _AROUND:
                box = _label_box(anchors[i], sizes[i], ring, pos, scale)
                leader = _leader(anchors[i], box) if ring > _RINGS[0] else []
                cost = (sum(w * _overlap(box, b) for b, w in blocked) + _LABEL * sum(_overlap(box, b) for b in labels)
                        + _OUTSIDE * _outside(box, frame) + _CROSSING * sum(box.contains(*p) for p in lines)
                        + _CROSSING * sum(b.contains(*p) for p in leader for b in labels))
                if best is None or cost < best[0]:
                    best = (cost, ring, pos, box, leader)
            if best[0] == 0:
                break
        cost, ring, pos, box, leader = best
        chosen[i], total = (ring, pos), total + cost
        labels.append(box)
        lines += leader
    return total, [chosen[i] for i in range(len(anchors))]


def _label_box(anchor, size, ring: float, pos, scale: float) -> _Box:
    dx, dy, ha, va = pos
    x = anchor[0] + dx * ring * scale - {"left": 0, "center": size[0] / 2, "right": size[0]}[ha]
    y = anchor[1] + dy * ring * scale - {"bottom": 0, "center": size[1] / 2, "top": size[1]}[va]
    return _Box(x, y, x + size[0], y + size[1])


def _leader(anchor, box: _Box, step: float = 2.0) -> list[tuple[float, float]]:
    """Points `step` pixels apart on the line from a label's centre to its point, outside the label."""
    cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    n = max(2, int(math.hypot(anchor[0] - cx, anchor[1] - cy) / step))
    pts = [(cx + (anchor[0] - cx) * k / n, cy + (anchor[1] - cy) * k / n) for k in range(n + 1)]
    return [p for p in pts if not box.contains(*p)]


def _crowded_first(anchors, near_px: float = 60.0) -> list[int]:
    """Items with the most neighbours within `near_px` first: they get the first pick of free places."""
    near = [sum(math.hypot(a[0] - b[0], a[1] - b[1]) < near_px for b in anchors) for a in anchors]
    return sorted(range(len(anchors)), key=lambda i: -near[i])


def overlapping(boxes) -> list[tuple[int, int]]:
    """Pairs of indices of boxes (matplotlib Bboxes) that overlap: what a test checks is empty."""
    return [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes)) if _overlap(boxes[i], boxes[j])]


def _box(b) -> _Box:
    return _Box(b.x0, b.y0, b.x1, b.y1)


def _pixels(ax, o: Obstacle) -> _Box:
    (x0, y0), (x1, y1) = ax.transData.transform([(o.x0, o.y0), (o.x1, o.y1)])
    return _Box(min(x0, x1) - o.pad, min(y0, y1) - o.pad, max(x0, x1) + o.pad, max(y0, y1) + o.pad)


def _overlap(a, b) -> float:
    """Area in pixels shared by two boxes."""
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _outside(box, frame) -> float:
    """Area of `box` that lies outside `frame`."""
    return (box.x1 - box.x0) * (box.y1 - box.y0) - _overlap(box, frame)
