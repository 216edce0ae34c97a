"""Plain nets of matched size: "does sharing beat simply shrinking the net?"

A shared net saves parameters; so does a shallower or a narrower unshared net. For a target
parameter count, these give the unshared net of the base's shape that comes closest:
`shallower` keeps the widths and takes one depth for every stage, `narrower` keeps the
depths and scales every width (stem included) by one factor.
"""
from __future__ import annotations

import dataclasses

from sharesnet import build_model, count_params
from sharesnet.spec import ArchSpec

KINDS = ("shallower", "narrower")


def matched_plain(base: ArchSpec, target: int, kind: str) -> ArchSpec:
    """The unshared net of `kind` whose parameter count is closest to `target` (ties: the smaller)."""
    if kind not in KINDS:
        raise ValueError(f"matched kind must be one of {', '.join(KINDS)}, got {kind!r}")
    plain = base.unshared()
    options = _shallower(plain) if kind == "shallower" else _narrower(plain)
    best = min(options, key=lambda s: (abs(_params(s) - target), _params(s)))
    return dataclasses.replace(best, name=f"plain {best.shape_text()}")


def _shallower(plain: ArchSpec) -> list[ArchSpec]:
    deepest = max(st.depth for st in plain.stages)
    return [dataclasses.replace(plain, stages=tuple(dataclasses.replace(st, depth=d, share=()) for st in plain.stages))
            for d in range(1, deepest + 1)]


def _narrower(plain: ArchSpec) -> list[ArchSpec]:
    """Every stem width from 4 up to the base's, the stages scaled with it (at least 1 channel)."""
    out = []
    for stem in range(4, plain.stem_width + 1):
        f = stem / plain.stem_width
        stages = tuple(dataclasses.replace(st, width=max(1, round(st.width * f))) for st in plain.stages)
        out.append(dataclasses.replace(plain, stem_width=stem, stages=stages))
    return out


def _params(spec: ArchSpec) -> int:
    return count_params(build_model(spec))
