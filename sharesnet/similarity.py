"""From a trained soft net to hard sharing masks: layer similarity, clustering, proposals.

Two layers of a soft position whose coefficient vectors point the same way, |cos| = 1,
compute the same filters up to a scale, which their BatchNorm can absorb (fold.py), so
they can share one hard weight (Savarese & Maire 2019, Sec. 4: the layer similarity
matrix). Clustering is complete-linkage on |cos|: at threshold t, every pair of layers
within a group has |cos| >= t, so each group is as tight as its loosest pair. Sweeping t
from 1 down gives a family of masks from light to heavy sharing. Pure functions of the
spec and the coefficients.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from sharesnet import masks as M
from sharesnet.soft import coefficient_matrix, soft_positions
from sharesnet.spec import ArchSpec

THRESHOLDS = (0.99, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3)  # the default sweep, tight to loose


@dataclass(frozen=True)
class Proposal:
    spec: ArchSpec  # a hard spec: the soft net's masks elsewhere, the clustering at its soft positions
    thresholds: tuple[float, ...]  # every threshold of the sweep that gave this spec


def similarity(alpha: torch.Tensor) -> torch.Tensor:
    """|cos| between the rows of an (L, k) coefficient matrix; a zero row is similar to nothing."""
    a = alpha.detach().double()
    unit = a / a.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (unit @ unit.T).abs().clamp(max=1.0)


def similarities(spec: ArchSpec, state: dict[str, torch.Tensor]) -> dict[tuple[int, int], torch.Tensor]:
    """The similarity matrix of every soft (stage, position); rows and columns are blocks 1..depth-1."""
    return {(s, p): similarity(coefficient_matrix(state, s, p, spec.stages[s].depth))
            for s, p in soft_positions(spec)}


def cluster(sim: torch.Tensor, threshold: float, contiguous: bool = False) -> tuple[int, ...]:
    """Complete-linkage groups at `threshold`, as canonical labels: the most similar pair of
    groups merges first (ties: lowest indices), while its loosest pair is >= threshold.
    contiguous: only neighbouring runs of blocks merge, so every group is a range of blocks."""
    n = sim.shape[0]
    groups = [[i] for i in range(n)]
    link = sim.clone().double()  # link[a, b]: the smallest |cos| between groups a and b
    link.fill_diagonal_(-1.0)
    alive = list(range(n))  # a group's index is its first block, so this is block order too
    while len(alive) > 1:
        a, b = _closest(link, alive, contiguous)
        if link[a, b] < threshold:
            break
        groups[a] += groups[b]
        link[a, :] = torch.minimum(link[a, :], link[b, :])
        link[:, a] = link[a, :]
        link[a, a] = -1.0
        alive.remove(b)
    labels = [0] * n
    for g, a in enumerate(alive):
        for i in groups[a]:
            labels[i] = g
    return M.canonical(labels)


def _closest(link: torch.Tensor, alive: list[int], contiguous: bool) -> tuple[int, int]:
    """The pair of live groups with the largest link, a < b; contiguous: neighbours only."""
    if contiguous:
        pairs = list(zip(alive, alive[1:]))
        return max(pairs, key=lambda ab: (float(link[ab]), -ab[0]))
    sub = link[alive][:, alive]
    best = int(torch.argmax(sub))  # row-major: the lowest index pair among ties
    a, b = alive[best // len(alive)], alive[best % len(alive)]
    return min(a, b), max(a, b)


def mask_of(labels: tuple[int, ...]) -> M.Mask:
    """A hard mask for a soft position: block 0 keeps its own weight, blocks 1.. share by cluster."""
    return M.canonical((-1,) + tuple(labels))


def propose(spec: ArchSpec, state: dict[str, torch.Tensor], thresholds: tuple[float, ...] = THRESHOLDS,
            contiguous: bool = False) -> list[Proposal]:
    """One hard spec per distinct clustering of the sweep, tight to loose; a sweep point that
    shares nothing at the soft positions (the plain child) is left out. contiguous: groups
    are runs of consecutive blocks, masks a search's `ranges` pattern can express."""
    sims = similarities(spec, state)
    hard = spec.without_soft()
    found: dict[str, Proposal] = {}
    for t in thresholds:
        child = hard.with_masks({sp: mask_of(cluster(sim, t, contiguous)) for sp, sim in sims.items()})
        if child == hard:
            continue
        old = found.get(child.arch_id)
        found[child.arch_id] = Proposal(child, (old.thresholds if old else ()) + (t,))
    return list(found.values())
