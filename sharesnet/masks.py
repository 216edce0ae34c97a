"""Sharing masks: a group label per block says which blocks share one conv weight.

A mask is a tuple of ints, one per block of a stage; blocks with the same label use
one weight tensor. These helpers are pure: they build and canonicalise label tuples.
"""
from __future__ import annotations

from typing import Iterable, Sequence

Mask = tuple[int, ...]


def canonical(mask: Iterable[int]) -> Mask:
    """Relabel groups by first appearance, so equal partitions compare equal."""
    seen: dict[int, int] = {}
    return tuple(seen.setdefault(label, len(seen)) for label in mask)


def none(depth: int) -> Mask:
    """No sharing: every block owns its weight."""
    return tuple(range(depth))


def stage(depth: int, skip_first: bool = False) -> Mask:
    """One weight for the whole stage (ShaResNet); `skip_first` keeps block 0 apart."""
    if skip_first:
        return (0,) + (1,) * (depth - 1) if depth > 1 else (0,)
    return (0,) * depth


def ranges(depth: int, cuts: Sequence[int]) -> Mask:
    """Contiguous runs split before each cut: ranges(6, [2, 4]) -> blocks 0-1, 2-3, 4-5."""
    cuts = sorted(set(cuts))
    if any(c <= 0 or c >= depth for c in cuts):
        raise ValueError(f"cut points must lie in 1..{depth - 1} for a stage of {depth} blocks, got {list(cuts)}")
    return tuple(sum(1 for c in cuts if c <= b) for b in range(depth))


def sequence(depth: int, k: int) -> Mask:
    """Groups of k consecutive blocks: sequence(6, 2) -> AABBCC."""
    if k < 1:
        raise ValueError(f"sequence length k must be >= 1, got {k}")
    return tuple(b // k for b in range(depth))


def cycle(depth: int, k: int) -> Mask:
    """k weight sets used in turn: cycle(6, 3) -> ABCABC."""
    if k < 1:
        raise ValueError(f"cycle size k must be >= 1, got {k}")
    return tuple(b % k for b in range(depth))


def groups(mask: Mask) -> dict[int, list[int]]:
    """Blocks of each group label, in block order."""
    out: dict[int, list[int]] = {}
    for block, label in enumerate(mask):
        out.setdefault(label, []).append(block)
    return out


def n_shared_groups(mask: Mask) -> int:
    """Number of groups used by more than one block."""
    return sum(1 for members in groups(mask).values() if len(members) > 1)
