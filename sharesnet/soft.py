"""Soft sharing (Savarese & Maire, ICLR 2019, arXiv 1902.09701): weights mixed from templates.

A soft position of a stage holds a bank of k templates T (one Parameter, k x weight shape)
and, for every block after the first, a coefficient vector alpha_b (k,). Block b's conv
weight is W_b = sum_j alpha_b[j] T_j; the first block keeps its own weight, as in the
paper (and the authors' code, github.com/lolemacs/soft-sharing, which this follows where
the paper is silent). Names in the stage's ParameterDict:
  conv{P}_0        block 0's own weight (the label a hard `none` mask gives it)
  conv{P}_bank     the templates, flat: (k, out*in*kh*kw), one row each (a 5-D tensor would
                   break `model.to(memory_format=torch.channels_last)`, which the engine calls)
  conv{P}_coef{b}  block b's coefficients, b >= 1
The coefficients are 1-D, so the engine's rule (decay only ndim > 1) leaves them undecayed,
as the paper prescribes; the templates are decayed like any conv weight.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def bank_key(p: int) -> str:
    """ParameterDict key of position p's templates (p 0-based, names 1-based like hard weights)."""
    return f"conv{p + 1}_bank"


def coef_key(p: int, b: int) -> str:
    """ParameterDict key of block b's coefficients at position p."""
    return f"conv{p + 1}_coef{b}"


def init_bank(k: int, shape: tuple[int, ...], init: Callable[[tuple[int, ...]], torch.Tensor]) -> torch.Tensor:
    """(k, prod(shape)): k templates, each initialised like a hard conv weight (the paper: the
    usual Kaiming init), stored flat."""
    return torch.stack([init(shape).flatten() for _ in range(k)])


def init_coefficients(layers: int, k: int) -> torch.Tensor:
    """(layers, k) coefficients, orthogonal across layers as far as k allows.

    layers <= k: orthonormal rows, so every layer starts with its own direction and the
    variance of one template. layers > k: orthonormal columns (rows cannot all be
    orthogonal), as the authors' nn.init.orthogonal_ on a (layers, k) tensor gives.
    """
    alpha = torch.empty(layers, k)
    nn.init.orthogonal_(alpha)
    return alpha


def mix(bank: torch.Tensor, coefficients: list[torch.Tensor], shape: tuple[int, ...]) -> torch.Tensor:
    """Every layer's weight at once, (L, *shape): (L, k) @ (k, N), one matmul that fvcore
    counts (L*k*N MACs, once per forward: at batch 1 as at any batch)."""
    alpha = torch.stack(coefficients)
    return (alpha @ bank).view(len(coefficients), *shape)


def coefficient_matrix(state: dict[str, torch.Tensor], s: int, p: int, depth: int) -> torch.Tensor:
    """(depth - 1, k) coefficients of stage s, position p, from a model's state dict."""
    return torch.stack([state[f"stages.{s}.weights.{coef_key(p, b)}"] for b in range(1, depth)])


def soft_positions(spec) -> list[tuple[int, int]]:
    """(stage, position) pairs that are soft-shared, in order."""
    return [(s, p) for s, st in enumerate(spec.stages) for p in range(len(spec.positions)) if st.templates(p)]
