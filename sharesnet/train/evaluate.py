"""Evaluation of a model on a split, in fp32 and without augmentation.

Always fp32, even where training uses bf16 autocast: reported accuracies then follow
from a checkpoint alone, on any hardware.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from sharesnet.data import DataBundle, Split


@torch.inference_mode()
def evaluate_model(forward: Callable[[torch.Tensor], torch.Tensor], split: Split, data: DataBundle,
                   batch_size: int = 512, channels_last: bool = True,
                   device: str | torch.device | None = None) -> tuple[float, float]:
    """(mean cross-entropy, top-1 accuracy) with batches on `device` (None: where the split is);
    the caller puts the model in eval mode."""
    loss_sum = correct = 0  # become device tensors at the first batch: one host sync, at the end
    for x, y in split.iterate(batch_size, mean=data.mean, std=data.std, channels_last=channels_last,
                              device=device):
        out = forward(x).float()
        loss_sum = loss_sum + nn.functional.cross_entropy(out, y, reduction="sum")
        correct = correct + (out.argmax(1) == y).sum()
    return float(loss_sum) / len(split), int(correct) / len(split)


def accuracy(model: nn.Module, split: Split, data: DataBundle, batch_size: int = 512) -> float:
    """Top-1 accuracy of a bare model (e.g. rebuilt by load_checkpoint) on its device."""
    model.eval()
    return evaluate_model(model, split, data, batch_size, device=next(model.parameters()).device)[1]
