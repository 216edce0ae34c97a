"""From Optuna's suggestions to an ArchSpec (decode) and back (encode, for warm starts).

The only Optuna-facing names are parameter names such as `s2.depth`, `width_mult`,
`s1.conv2.share` (a pattern), `s1.conv2.k` and `s1.conv2.cut3`. Patterns that would tie
blocks of different weight shapes are legalised by splitting such groups by shape
(e.g. a strided first block keeps its own conv1), so every suggestion builds.

Encoding `conditional` (the default) asks for cuts only under `ranges` and at the trial's
depth, and for `k` only under `sequence`/`cycle`. Optuna's NSGA-II, TPE and GP model only
the parameters every finished trial has (the intersection search space), so they draw
those independently at random. Encoding `fixed` asks for every parameter in every trial:
`k` whatever the pattern, and a cut per gap of the stage's deepest choice whatever the
pattern and depth (unused ones are don't-care genes), so the samplers model them all.
Measured on the quickstart, that did not raise the hypervolume (see the README).
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Protocol

from nas.propose.proposals import read_proposals
from nas.space.config import PATTERNS, SearchSpace
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
            if varies(space, s, pos):
                genes = _suggest_genes(trial, f"s{s + 1}.{pos}", st.depth, max_depth(space, s), space)
                masks[(s, p)] = legalise(shape, s, p, _mask(genes, st.depth))
    return shape.with_masks(masks)


def max_depth(space: SearchSpace, s: int) -> int:
    """The deepest choice of stage s: how many cut genes the fixed encoding carries."""
    return max(space.depth[s]) if space.depth else space.base.stages[s].depth


def _suggest_genes(trial: Suggester, prefix: str, depth: int, deepest: int, space: SearchSpace) -> dict[str, Any]:
    """The pattern and its arguments. `fixed` asks for all of them every time; `conditional`
    only for those the pattern uses at this depth."""
    patterns = space.sharing.patterns
    genes: dict[str, Any] = {"share": trial.suggest_categorical(f"{prefix}.share", list(patterns))}
    fixed = space.sampler.encoding == "fixed"
    used = depth > 1 and genes["share"] not in ("none", "stage")
    if "ranges" in patterns and (fixed or (used and genes["share"] == "ranges")):
        for b in range(1, deepest if fixed else depth):
            genes[f"cut{b}"] = trial.suggest_categorical(f"{prefix}.cut{b}", [False, True])
    if ({"sequence", "cycle"} & set(patterns)) and (fixed or (used and genes["share"] != "ranges")):
        genes["k"] = trial.suggest_categorical(f"{prefix}.k", list(space.sharing.k))
    return genes


def _mask(genes: dict[str, Any], depth: int) -> M.Mask:
    pattern = genes["share"]
    if pattern == "none" or depth == 1:
        return M.none(depth)
    if pattern == "stage":
        return M.stage(depth)
    if pattern == "ranges":
        return M.ranges(depth, [b for b in range(1, depth) if genes[f"cut{b}"]])
    return M.sequence(depth, genes["k"]) if pattern == "sequence" else M.cycle(depth, genes["k"])


def legalise(spec: ArchSpec, s: int, p: int, mask: M.Mask) -> M.Mask:
    """Split every group by weight shape, so only equal shapes share."""
    keyed = [(label, spec.conv_shape(s, b, p)) for b, label in enumerate(mask)]
    return M.canonical(keyed.index(k) for k in keyed)


def varies(space: SearchSpace, s: int, pos: str) -> bool:
    """Whether the space searches the sharing of conv position `pos` in stage s."""
    stages = space.sharing.stages
    return pos in space.sharing.positions and (stages is None or s in stages)


def _scaled(width: int, mult: float, base: ArchSpec, multiple: int | None = None) -> int:
    """Scale a width, keeping bottleneck widths divisible by the expansion."""
    multiple = multiple or (base.expansion if base.block == "bottleneck" else 1)
    return max(multiple, int(round(width * mult / multiple)) * multiple)


# --- the cheapest architecture: what a budget is compared with at load ---
def smallest(space: SearchSpace) -> ArchSpec:
    """The architecture of the space with the fewest parameters and FLOPs: every stage at its
    smallest depth and width, and each conv position that may share at the pattern that leaves
    the fewest weights. Both costs grow with depth and width, and sharing changes parameters only."""
    shape = decode(_Smallest(), space)
    masks = {}
    for s, st in enumerate(shape.stages):
        for p, pos in enumerate(shape.positions):
            if varies(space, s, pos):
                options = [legalise(shape, s, p, _mask({"share": pat, "k": k, **{f"cut{b}": False for b in
                                                                                   range(1, st.depth)}}, st.depth))
                           for pat in space.sharing.patterns for k in space.sharing.k]
                masks[(s, p)] = min(options, key=lambda m: _weights(shape, s, p, m))
    return shape.with_masks(masks)


def _weights(spec: ArchSpec, s: int, p: int, mask: M.Mask) -> int:
    """Conv weight elements of one stage's position under `mask`: one tensor per group."""
    firsts = {label: b for b, label in reversed(list(enumerate(mask)))}
    return sum(math.prod(spec.conv_shape(s, b, p)) for b in firsts.values())


class _Smallest:
    """A Suggester that answers with the smallest choice: depth, width, width_mult (a pattern's genes
    too, but `smallest` chooses the masks itself)."""

    def suggest_categorical(self, name: str, choices: list) -> Any:
        return min(choices)


# --- encode: the inverse, so the plain net and the paper's ShaResNet can be enqueued ---
def warm_start_specs(space: SearchSpace) -> dict[str, ArchSpec]:
    """The warm starts by tag: the plain base network, the paper's rule applied to it, then the
    proposals of each `{proposals: DIR}` (tagged with their names; SpaceError if one cannot be read)."""
    plain = space.base.unshared()
    specs = {name: {"plain": plain, "paper": paper_sharing(plain)}[name] for name in space.warm_start}
    for path in space.warm_start_proposals:
        for name, spec in read_proposals(path):
            specs[name if name not in specs else f"{Path(path).name}/{name}"] = spec
    return specs


def encode(spec: ArchSpec, space: SearchSpace) -> dict[str, Any] | None:
    """Optuna params that decode to `spec`, or None when the space cannot express it."""
    params: dict[str, Any] = {}
    if space.width_mult:
        mults = _width_mults(spec, space)
        if not mults:
            return None
        params["width_mult"] = mults[0]
    for s, st in enumerate(spec.stages):
        if space.depth:
            params[f"s{s + 1}.depth"] = st.depth
        if space.width:
            params[f"s{s + 1}.width"] = st.width
        for p, pos in enumerate(spec.positions):
            if not varies(space, s, pos):
                if M.n_shared_groups(st.mask(p)):
                    return None
                continue
            found = _encode_mask(spec, s, p, space)
            if found is None:
                return None
            params.update({f"s{s + 1}.{pos}.{k}": v for k, v in found.items()})
    fixed = _Fixed(params)
    try:
        return {name: params[name] for name in fixed.asked} if decode(fixed, space) == spec else None
    except (KeyError, ValueError):
        return None


def _width_mults(spec: ArchSpec, space: SearchSpace) -> list[float]:
    """The width_mult choices that scale the base to the spec's stem and stage widths."""
    base = space.base
    return [m for m in space.width_mult if spec.stem_width == _scaled(base.stem_width, m, base, 1)
            and all(st.width == _scaled(b.width, m, base) for st, b in zip(spec.stages, base.stages))]


def missing_choice(spec: ArchSpec, space: SearchSpace) -> str:
    """Why `encode` finds no parameters for `spec`: the first choice of the space it would need."""
    base = space.base
    if space.width_mult and not _width_mults(spec, space):
        return f"no vary.width_mult choice ({', '.join(f'{m:g}' for m in space.width_mult)}) gives its widths " \
               f"{'-'.join(str(st.width) for st in spec.stages)}"
    for s, (st, b) in enumerate(zip(spec.stages, base.stages)):
        if space.depth and st.depth not in space.depth[s]:
            return f"its stage {s + 1} has depth {st.depth}, which vary.depth does not offer there ({list(space.depth[s])})"
        if space.width and st.width not in space.width[s]:
            return f"its stage {s + 1} has width {st.width}, which vary.width does not offer there ({list(space.width[s])})"
    for s, st in enumerate(spec.stages):
        for p, pos in enumerate(spec.positions):
            mask = "".join(map(str, st.mask(p)))
            if not varies(space, s, pos):
                if M.n_shared_groups(st.mask(p)):
                    left_out = f"vary.sharing.positions ({', '.join(space.sharing.positions) or 'none'}) leaves " \
                               f"out {pos}" if pos not in space.sharing.positions else \
                        f"vary.sharing.stages ({', '.join(map(str, space.sharing.stages))}, 0-based) leaves out {s}"
                    return f"it shares s{s + 1}.{pos}={mask}, but {left_out}"
            elif _encode_mask(spec, s, p, space) is None:
                wider = dataclasses.replace(space, sharing=dataclasses.replace(space.sharing, patterns=PATTERNS))
                need = [pat for pat in PATTERNS if pat not in space.sharing.patterns and _encode_mask(
                    spec, s, p, dataclasses.replace(wider, sharing=dataclasses.replace(wider.sharing, patterns=(pat,))))]
                add = f"; add {' or '.join(repr(n) for n in need)} to vary.sharing.patterns" if need else ""
                return f"no pattern of vary.sharing.patterns ({', '.join(space.sharing.patterns)}) gives its " \
                       f"s{s + 1}.{pos}={mask}{add}"
    return "its depth, width or sharing is not among the choices"


def _encode_mask(spec: ArchSpec, s: int, p: int, space: SearchSpace) -> dict[str, Any] | None:
    """Genes that give the mask; don't-care ones (unused cuts, an unused k) copy the mask's cuts and the first k.
    `encode` keeps only the genes the encoding asks for."""
    target, depth = spec.stages[s].mask(p), spec.stages[s].depth
    cuts = {b for b in range(1, depth) if target[b] != target[b - 1]}
    for pattern in space.sharing.patterns:
        for k in space.sharing.k if pattern in ("sequence", "cycle") else space.sharing.k[:1]:
            genes = {"share": pattern, "k": k, **{f"cut{b}": b in cuts for b in range(1, max_depth(space, s))}}
            if legalise(spec, s, p, _mask(genes, depth)) == target:
                return genes
    return None


class _Fixed:
    """A Suggester that answers from a dict, to check that an encoding decodes back; `asked`
    keeps the names decode asked for, in order."""

    def __init__(self, params: dict[str, Any]):
        self.params, self.asked = params, []

    def suggest_categorical(self, name: str, choices: list) -> Any:
        if name not in self.params or self.params[name] not in choices:
            raise KeyError(name)
        self.asked.append(name)
        return self.params[name]
