"""Seeded, stratified index splits: every class keeps its proportion on both sides."""
from __future__ import annotations

import torch


def stratified_split(labels: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(keep, held_out) index tensors; held_out takes round(fraction * n_c) of each class c."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"val_fraction: must be in [0, 1), got {fraction}")
    labels = labels.cpu()
    gen = torch.Generator().manual_seed(seed)
    keep, held = [], []
    for c in torch.unique(labels).tolist():
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n_held = int(round(fraction * len(idx)))
        held.append(idx[:n_held])
        keep.append(idx[n_held:])
    # Sorted, so the index lists (not just their sets) are a pure function of the seed.
    return torch.cat(keep).sort().values, torch.cat(held).sort().values


def random_subset(indices: torch.Tensor, limit: int | None, seed: int) -> torch.Tensor:
    """At most `limit` of `indices`, drawn without replacement (all of them when limit is None)."""
    if limit is None or limit >= len(indices):
        return indices
    gen = torch.Generator().manual_seed(seed)
    return indices[torch.randperm(len(indices), generator=gen)[:limit]].sort().values


def split_indices(train_labels: torch.Tensor, n_test: int, val_fraction: float, seed: int,
                  limit: int | None, test_limit: int | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train, val, test) indices: stratified val carved from train.

    `limit` caps train and val (each); only `test_limit` caps test, so a search's smoke
    limit can never quietly shrink the split a final accuracy is reported on.
    """
    train_idx, val_idx = stratified_split(train_labels, val_fraction, seed)
    train_idx, val_idx = (random_subset(i, limit, seed) for i in (train_idx, val_idx))
    return train_idx, val_idx, random_subset(torch.arange(n_test), test_limit, seed)
