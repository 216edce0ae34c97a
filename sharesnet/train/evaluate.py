"""Accuracy of a bare model on a split: what a checkpoint alone is enough to reproduce."""
from __future__ import annotations

import torch
from torch import nn

from sharesnet.data import DataBundle, TensorSplit, batches


@torch.inference_mode()
def accuracy(model: nn.Module, split: TensorSplit, data: DataBundle, batch_size: int = 512) -> float:
    """Top-1 accuracy without augmentation, BatchNorm in eval mode, on the model's device."""
    device = next(model.parameters()).device
    model.eval()
    split = split.to(device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    for x, y in batches(split, batch_size, mean=data.mean, std=data.std, channels_last=True):
        correct += (model(x).argmax(1) == y).sum()
    return correct.item() / len(split)
