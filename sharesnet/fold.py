"""Fold a trained soft net into a hard child: one weight per group, BatchNorms rescaled.

A group whose coefficients are scaled copies, alpha_b = c_b u, has weights W_b = c_b W with
W = sum_j u_j T_j. A conv is linear, so conv(x, W_b) = c_b conv(x, W), and in eval mode the
BatchNorm after it, BN(c z) = gamma (c z - mean) / sqrt(var + eps) + beta, equals BN'(z) with
mean' = mean / c, var' = var / c^2 (the statistics of z) and gamma' such that
gamma' / sqrt(var' + eps) = c gamma / sqrt(var + eps). The sign of c goes into gamma' and
mean'. So the fold is exact. A group that is only nearly parallel folds onto its principal
direction (the best rank-1 fit of its coefficients), and `residual` says how far off it is.
Where no BatchNorm follows the conv (a pre-activation block's last conv feeds the residual
sum) nothing absorbs a scale: the group takes its mean coefficients, exact only if they are equal.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from sharesnet import masks as M
from sharesnet.soft import bank_key, coefficient_matrix, soft_positions
from sharesnet.spec import ArchSpec

EPS = 1e-5  # nn.BatchNorm2d's default eps, which every BatchNorm of these nets uses


class FoldError(ValueError):
    """The child cannot be folded from the soft net; the message says why."""


@dataclass(frozen=True)
class Folded:
    state: dict[str, torch.Tensor]  # for build_model(child)
    residual: float  # largest ||A - c u^T|| / ||A|| over the folded groups' coefficients; 0 = exact


def fold(soft_spec: ArchSpec, state: dict[str, torch.Tensor], child: ArchSpec) -> Folded:
    """The child's state dict from the soft net's: copies where nothing changes, folds at soft positions."""
    _check_child(soft_spec, child)
    src = {k: v.detach().cpu() for k, v in state.items()}
    soft_keys = {f"stages.{s}.weights.{k}" for s, p in soft_positions(soft_spec)
                 for k in (bank_key(p), *[f"conv{p + 1}_coef{b}" for b in range(1, soft_spec.stages[s].depth)])}
    out = {k: v.clone() for k, v in src.items() if k not in soft_keys}
    worst = 0.0
    for s, p in soft_positions(soft_spec):
        bank = src[f"stages.{s}.weights.{bank_key(p)}"]
        alpha = coefficient_matrix(src, s, p, soft_spec.stages[s].depth).double()
        norm = _following_norm(soft_spec, p)
        for label, members in M.groups(child.stages[s].mask(p)).items():
            if members == [0]:
                continue  # block 0's own weight, conv{P}_0 in both nets: copied above
            rows = alpha[[b - 1 for b in members]]
            u, scales = _rank1(rows) if norm else (rows.mean(0), torch.ones(len(members), dtype=rows.dtype))
            worst = max(worst, float((rows - scales[:, None] * u).norm() / rows.norm().clamp_min(1e-30)))
            weight = (u @ bank.double()).view(soft_spec.conv_shape(s, 1, p))
            out[f"stages.{s}.weights.conv{p + 1}_{label}"] = weight.to(bank.dtype)
            for b, c in zip(members, scales.tolist()):
                if norm:
                    _absorb(out, f"stages.{s}.norms.{norm}_{b}", c, f"stages[{s}] {soft_spec.positions[p]} block {b}")
    return Folded(out, worst)


def _check_child(soft_spec: ArchSpec, child: ArchSpec) -> None:
    if soft_spec.share_norm:
        raise FoldError("fold: the soft net shares BatchNorms (share_norm: true); a fold rescales each "
                        "block's own BatchNorm, so it needs share_norm: false")
    if child.is_soft:
        raise FoldError("fold: the child must be a hard spec (no soft positions)")
    at_soft = {(s, p): child.stages[s].mask(p) for s, p in soft_positions(soft_spec)}
    if child != soft_spec.without_soft().with_masks(at_soft):
        raise FoldError("fold: the child differs from the soft net elsewhere than in the masks of its soft "
                        "positions; fold into a mask proposal of this net (sharesnet.similarity.propose)")
    for (s, p), mask in at_soft.items():
        if M.groups(mask)[mask[0]] != [0]:
            raise FoldError(f"fold: stages[{s}].share.{soft_spec.positions[p]}: block 0 keeps its own weight "
                            f"in the soft net, so it cannot share in the child; give it its own group label")


def _following_norm(spec: ArchSpec, p: int) -> str | None:
    """Name prefix of the BatchNorm that reads conv p's output, or None where none does."""
    if not spec.preact:
        return f"bn{p + 1}"  # post-act: conv -> its BN
    return f"bn{p + 2}" if p + 1 < len(spec.positions) else None  # pre-act: the next conv's BN


def _rank1(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(u, c) with rows ~ c u^T: u along the principal direction, scaled so c has RMS 1 (a
    single row folds onto itself with c = 1); the first member's c is positive."""
    v = torch.linalg.svd(rows, full_matrices=False).Vh[0]
    c = rows @ v
    if c[0] < 0:
        v, c = -v, -c
    rms = c.pow(2).mean().sqrt()
    return v * rms, c / rms


def _absorb(state: dict[str, torch.Tensor], prefix: str, c: float, where: str) -> None:
    """Make the BatchNorm `prefix` give, on conv output z, what it gave on c z (eval mode)."""
    if abs(c) < 1e-8:
        raise FoldError(f"fold: {where}: its coefficients are orthogonal to its group's direction, "
                        f"so no BatchNorm scale can fold it; use a tighter threshold")
    mean, var, gamma = (state[f"{prefix}.{k}"].double() for k in ("running_mean", "running_var", "weight"))
    new_var = var / c ** 2
    dtype = state[f"{prefix}.weight"].dtype
    state[f"{prefix}.weight"] = (gamma * c * (new_var + EPS).sqrt() / (var + EPS).sqrt()).to(dtype)
    state[f"{prefix}.running_mean"] = (mean / c).to(dtype)
    state[f"{prefix}.running_var"] = new_var.to(dtype)
