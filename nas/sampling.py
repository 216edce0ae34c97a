"""From Optuna's suggestions to an ArchSpec (decode) and back (encode, for warm starts).

The only Optuna-facing names are parameter names such as `s2.depth`, `width_mult`,
`s1.conv2.share` (a pattern), `s1.conv2.k` and `s1.conv2.cut3`. Patterns that would tie
blocks of different weight shapes are legalised by splitting such groups by shape
(e.g. a strided first block keeps its own conv1), so every suggestion builds.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from nas.space import SearchSpace
from sharesnet import masks as M
from sharesnet.rules import paper_sharing
from sharesnet.spec import ArchSpec, StageSpec


class Suggester(Protocol):
    def suggest_categorical(self, name: str, choices: list) -> Any: ...


def decode(trial: Suggester, space: SearchSpace) -> ArchSpec:
    """Ask `trial` for every choice the space leaves open; return the (valid) spec."""
    base = space.base
    mult = trial.suggest_categorical("width_mult", list(space.width_mult)) if space.width_mult else None
    stages = []
    for s, st in enumerate(base.stages):
        depth = trial.suggest_categorical(f"s{s + 1}.depth", list(space.depth[s])) if space.depth else st.depth
        if space.width:
            width = trial.suggest_categorical(f"s{s + 1}.width", list(space.width[s]))
        else:
            width = _scaled(st.width, mult, base) if mult else st.width
        stages.append(StageSpec(depth, width, st.stride))
    stem = _scaled(base.stem_width, mult, base, multiple=1) if mult else base.stem_width
    shape = dataclasses.replace(base, stages=tuple(stages), stem_width=stem)
    masks = {}
    for s, st in enumerate(shape.stages):
        for p, pos in enumerate(shape.positions):
            if _varies(space, s, pos):
                masks[(s, p)] = legalise(shape, s, p, _suggest_mask(trial, f"s{s + 1}.{pos}", st.depth, space))
    return shape.with_masks(masks)


def _suggest_mask(trial: Suggester, prefix: str, depth: int, space: SearchSpace) -> M.Mask:
    pattern = trial.suggest_categorical(f"{prefix}.share", list(space.sharing.patterns))
    if pattern == "none" or depth == 1:
        return M.none(depth)
    if pattern == "stage":
        return M.stage(depth)
    if pattern == "ranges":
        return M.ranges(depth, [b for b in range(1, depth) if trial.suggest_categorical(f"{prefix}.cut{b}", [False, True])])
    k = trial.suggest_categorical(f"{prefix}.k", list(space.sharing.k))
    return M.sequence(depth, k) if pattern == "sequence" else M.cycle(depth, k)


def legalise(spec: ArchSpec, s: int, p: int, mask: M.Mask) -> M.Mask:
    """Split every group by weight shape, so only equal shapes share."""
    keyed = [(label, spec.conv_shape(s, b, p)) for b, label in enumerate(mask)]
    return M.canonical(keyed.index(k) for k in keyed)


def _varies(space: SearchSpace, s: int, pos: str) -> bool:
    stages = space.sharing.stages
    return pos in space.sharing.positions and (stages is None or s in stages)


def _scaled(width: int, mult: float, base: ArchSpec, multiple: int | None = None) -> int:
    """Scale a width, keeping bottleneck widths divisible by the expansion."""
    multiple = multiple or (base.expansion if base.block == "bottleneck" else 1)
    return max(multiple, int(round(width * mult / multiple)) * multiple)


# --- encode: the inverse, so the plain net and the paper's ShaResNet can be enqueued ---
def warm_start_specs(space: SearchSpace) -> dict[str, ArchSpec]:
    """The named warm starts: the plain base network and the paper's rule applied to it."""
    plain = space.base.unshared()
    return {name: {"plain": plain, "paper": paper_sharing(plain)}[name] for name in space.warm_start}


def encode(spec: ArchSpec, space: SearchSpace) -> dict[str, Any] | None:
    """Optuna params that decode to `spec`, or None when the space cannot express it."""
    params: dict[str, Any] = {}
    if space.width_mult:
        mults = [m for m in space.width_mult if spec.stem_width == _scaled(space.base.stem_width, m, space.base, 1)
                 and all(st.width == _scaled(b.width, m, space.base) for st, b in zip(spec.stages, space.base.stages))]
        if not mults:
            return None
        params["width_mult"] = mults[0]
    for s, st in enumerate(spec.stages):
        if space.depth:
            params[f"s{s + 1}.depth"] = st.depth
        if space.width:
            params[f"s{s + 1}.width"] = st.width
        for p, pos in enumerate(spec.positions):
            if not _varies(space, s, pos):
                if M.n_shared_groups(st.mask(p)):
                    return None
                continue
            found = _encode_mask(spec, s, p, space)
            if found is None:
                return None
            params.update({f"s{s + 1}.{pos}.{k}": v for k, v in found.items()})
    try:
        return params if decode(_Fixed(params), space) == spec else None
    except (KeyError, ValueError):
        return None


def _encode_mask(spec: ArchSpec, s: int, p: int, space: SearchSpace) -> dict[str, Any] | None:
    target, depth = spec.stages[s].mask(p), spec.stages[s].depth
    cuts = {b for b in range(1, depth) if target[b] != target[b - 1]}
    options = {"none": [({}, M.none(depth))], "stage": [({}, M.stage(depth))],
               "ranges": [({f"cut{b}": b in cuts for b in range(1, depth)}, M.ranges(depth, sorted(cuts)))],
               "sequence": [({"k": k}, M.sequence(depth, k)) for k in space.sharing.k],
               "cycle": [({"k": k}, M.cycle(depth, k)) for k in space.sharing.k]}
    for pattern in space.sharing.patterns:
        for extra, mask in options[pattern]:
            if legalise(spec, s, p, mask) == target:
                return {"share": pattern, **extra}
    return None


class _Fixed:
    """A Suggester that answers from a dict, to check that an encoding decodes back."""

    def __init__(self, params: dict[str, Any]):
        self.params = params

    def suggest_categorical(self, name: str, choices: list) -> Any:
        if name not in self.params or self.params[name] not in choices:
            raise KeyError(name)
        return self.params[name]
