"""Point labels that cover no other label and no marker, and stay inside the axes.

A fixed offset (or one flipped left when a neighbour sits to the right) still let labels
of close points overlap ("front #0" over "paper" in final_results.png). Here each label
tries positions around its point, nearest first, and takes the first whose box, measured
by the renderer, is clear of every label placed so far, of every marker and of the axes'
edges; when none is clear, the one that covers least. Call it last, after the limits,
scales and layout are final: a box is measured in pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

# (dx, dy) in points and the alignment that keeps the text on that side of its point.
_AROUND = ((1, 0.7, "left", "bottom"), (1, -0.7, "left", "top"), (-1, 0.7, "right", "bottom"),
           (-1, -0.7, "right", "top"), (0, 1.4, "center", "bottom"), (0, -1.4, "center", "top"),
           (1, 0, "left", "center"), (-1, 0, "right", "center"))
_RINGS = (6, 14, 24, 36)  # distances in points, tried nearest first


@dataclass(frozen=True)
class Obstacle:
    """Something a label must not cover: a box in data coordinates, widened by `pad` pixels."""
    x0: float
    y0: float
    x1: float
    y1: float
    pad: float = 5.0
    weight: float = 5.0  # how much covering it costs when no position is clear


def point(x: float, y: float, radius_px: float = 6.0, weight: float = 5.0) -> Obstacle:
    return Obstacle(x, y, x, y, radius_px, weight)


def place(ax, items: list[tuple[float, float, str]], obstacles: list[Obstacle], **text_kw) -> list:
    """Annotate each (x, y, text) of `items` on `ax`; return the Text artists, in order."""
    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    blocked = [(_pixels(ax, o), o.weight) for o in obstacles]
    texts = []
    for x, y, text in items:
        best = None
        for ring in _RINGS:
            for dx, dy, ha, va in _AROUND:
                artist = ax.annotate(text, (x, y), xytext=(dx * ring, dy * ring), textcoords="offset points",
                                     ha=ha, va=va, **text_kw)
                box = artist.get_window_extent(renderer)
                cost = sum(w * _overlap(box, b) for b, w in blocked) + 10 * _outside(box, frame)
                if best is None or cost < best[0]:
                    if best is not None:
                        best[1].remove()
                    best = (cost, artist, box)
                else:
                    artist.remove()
                if cost == 0:
                    break
            if best[0] == 0:
                break
        texts.append(best[1])
        blocked.append((best[2], 10.0))  # labels placed later keep clear of this one
    return texts


def overlapping(boxes) -> list[tuple[int, int]]:
    """Pairs of indices of boxes (matplotlib Bboxes) that overlap: what a test checks is empty."""
    return [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes)) if _overlap(boxes[i], boxes[j])]


def _pixels(ax, o: Obstacle):
    from matplotlib.transforms import Bbox

    (x0, y0), (x1, y1) = ax.transData.transform([(o.x0, o.y0), (o.x1, o.y1)])
    return Bbox.from_extents(min(x0, x1) - o.pad, min(y0, y1) - o.pad, max(x0, x1) + o.pad, max(y0, y1) + o.pad)


def _overlap(a, b) -> float:
    """Area in pixels shared by two boxes."""
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _outside(box, frame) -> float:
    """Area of `box` that lies outside `frame`."""
    return box.width * box.height - _overlap(box, frame)
