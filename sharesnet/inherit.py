"""Weight inheritance: a child network's first weights, taken from a trained parent.

A sharing pattern constrains an unshared network's weights, so a trained parent is a
starting point for every candidate of a search. The rules, by state-dict name:
- block b of stage s takes block b of the parent's stage s (the first blocks);
- every tensor is cut to its first channels (out, in, BatchNorm entries, fc inputs);
- a weight the child shares (one Parameter for a group of blocks) starts as the mean of
  the cut parent weights of the blocks in its group: the single tensor closest to them
  all in the least-squares sense. A shared BatchNorm (share_norm=True) is averaged too;
- a projection shortcut the parent lacks (its block was an identity there) starts as
  the cut identity, 1x1 weights eye(out, in), and a fresh BatchNorm.
A child that is deeper or wider anywhere, or of another block kind, stem, shortcut or
class count, does not fit and raises InheritError: such a child trains from scratch.
"""
from __future__ import annotations

import re

import torch
from torch import nn

from sharesnet import masks as M
from sharesnet.model import build_model
from sharesnet.spec import ArchSpec

_SAME = ("block", "preact", "stem", "shortcut", "expansion", "in_channels", "num_classes")
_CONV = re.compile(r"stages\.(\d+)\.weights\.conv(\d+)_(\d+)$")
_NORM = re.compile(r"stages\.(\d+)\.norms\.bn(\d+)_(g?)(\d+)\.(\w+)$")
_SHORTCUT = re.compile(r"stages\.\d+\.blocks\.\d+\.shortcut\.")


class InheritError(ValueError):
    """The child does not fit in the parent; the message names the stage and the field."""


def inherit_state(parent: nn.Module | dict[str, torch.Tensor], parent_spec: ArchSpec,
                  child_spec: ArchSpec) -> dict[str, torch.Tensor]:
    """A state dict for build_model(child_spec), inherited from a trained parent (CPU tensors)."""
    check_fits(parent_spec, child_spec)
    src = parent.state_dict() if isinstance(parent, nn.Module) else parent
    src = {k: v.detach().cpu() for k, v in src.items()}
    with torch.device("meta"):  # names and shapes only: no memory, no draw from the global RNG
        child = build_model(child_spec)
    out = {}
    for key, ref in child.state_dict().items():
        sources = _sources(key, parent_spec, child_spec)
        out[key] = _mean([_cut(src[k], ref.shape, k) for k in sources]) if sources[0] in src else \
            _fresh(key, ref)
    child.load_state_dict(out, strict=True, assign=True)  # every name and shape, as a real load checks
    return out


def check_fits(parent: ArchSpec, child: ArchSpec) -> None:
    """Raise InheritError unless every stage of the child is at most as deep and wide as the parent's."""
    if parent.is_soft or child.is_soft:
        raise InheritError("cannot inherit: a soft-shared net (spec `soft`) mixes templates instead of holding "
                           "a weight per block; train it from scratch")
    for key in _SAME:
        if getattr(parent, key) != getattr(child, key):
            raise InheritError(f"cannot inherit: {key} is {getattr(child, key)!r} in the child but "
                               f"{getattr(parent, key)!r} in the parent")
    if len(parent.stages) != len(child.stages):
        raise InheritError(f"cannot inherit: the child has {len(child.stages)} stages, the parent {len(parent.stages)}")
    if child.stem_width > parent.stem_width:
        raise InheritError(f"cannot inherit: stem width {child.stem_width} > the parent's {parent.stem_width}")
    for s, (p, c) in enumerate(zip(parent.stages, child.stages), 1):
        for field in ("depth", "width"):
            if getattr(c, field) > getattr(p, field):
                raise InheritError(f"cannot inherit: stage {s} {field} {getattr(c, field)} > the parent's "
                                   f"{getattr(p, field)}; a child must fit in the parent (or train from scratch)")
        if c.stride != p.stride:
            raise InheritError(f"cannot inherit: stage {s} stride {c.stride}, the parent's {p.stride}")


def _sources(key: str, parent: ArchSpec, child: ArchSpec) -> list[str]:
    """The parent names a child tensor is made from (averaged when several)."""
    conv, norm = _CONV.match(key), _NORM.match(key)
    if conv:
        s, p, group = (int(x) for x in conv.groups())
        blocks = M.groups(child.stages[s].mask(p - 1))[group]
        return [f"stages.{s}.weights.conv{p}_{parent.stages[s].mask(p - 1)[b]}" for b in blocks]
    if norm:
        s, p, shared, label, attr = norm.groups()
        s, p, label = int(s), int(p), int(label)
        blocks = M.groups(child.stages[s].mask(p - 1))[label] if shared else [label]
        return [f"stages.{s}.norms.{_norm_name(parent, s, b, p)}.{attr}" for b in blocks]
    return [key]  # stem, head and shortcuts keep their names


def _norm_name(spec: ArchSpec, s: int, b: int, p: int) -> str:
    """The BatchNorm block b uses at conv position p (1-based), as sharesnet.stage names it."""
    return f"bn{p}_g{spec.stages[s].mask(p - 1)[b]}" if spec.share_norm else f"bn{p}_{b}"


def _cut(t: torch.Tensor, shape: torch.Size, name: str) -> torch.Tensor:
    """The first entries along every dimension."""
    if t.ndim != len(shape) or any(n > m for n, m in zip(shape, t.shape)):
        raise InheritError(f"cannot inherit {name}: the parent's {tuple(t.shape)} does not hold {tuple(shape)}")
    return t[tuple(slice(0, n) for n in shape)].contiguous()


def _mean(tensors: list[torch.Tensor]) -> torch.Tensor:
    if len(tensors) == 1 or not tensors[0].is_floating_point():  # e.g. BatchNorm's num_batches_tracked
        return tensors[0].clone()
    return torch.stack(tensors).mean(0)


def _fresh(key: str, ref: torch.Tensor) -> torch.Tensor:
    """A shortcut the parent lacks (an identity there): the cut identity, and a fresh BatchNorm."""
    if not _SHORTCUT.match(key):
        raise InheritError(f"cannot inherit {key}: the parent has no such tensor")
    if key.endswith("conv.weight"):
        out, inp = ref.shape[:2]
        return torch.eye(out, inp).reshape(ref.shape)
    if ref.ndim == 0:  # num_batches_tracked
        return torch.zeros((), dtype=ref.dtype)
    return nn.BatchNorm2d(ref.shape[0]).state_dict()[key.rsplit(".", 1)[1]].clone()  # weight 1, bias 0, stats 0/1
