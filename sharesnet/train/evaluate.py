"""Evaluation of a model on a split, in fp32 and without augmentation.

Always fp32, even where training uses bf16 autocast: reported accuracies then follow
from a checkpoint alone, on any hardware.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from sharesnet.data import DataBundle, TensorSplit, batches


@torch.inference_mode()
def evaluate_model(forward: Callable[[torch.Tensor], torch.Tensor], split: TensorSplit, data: DataBundle,
                   batch_size: int = 512, channels_last: bool = True) -> tuple[float, float]:
    """(mean cross-entropy, top-1 accuracy); the caller puts the model in eval mode."""
    device = split.images.device
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    for x, y in batches(split, batch_size, mean=data.mean, std=data.std, channels_last=channels_last):
        out = forward(x).float()
        loss_sum += nn.functional.cross_entropy(out, y, reduction="sum")
        correct += (out.argmax(1) == y).sum()
    return loss_sum.item() / len(split), correct.item() / len(split)


def accuracy(model: nn.Module, split: TensorSplit, data: DataBundle, batch_size: int = 512) -> float:
    """Top-1 accuracy of a bare model (e.g. rebuilt by load_checkpoint) on its device."""
    model.eval()
    split = split.to(next(model.parameters()).device)
    return evaluate_model(model, split, data, batch_size)[1]
