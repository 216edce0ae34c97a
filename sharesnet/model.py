"""build_model: the one generic builder, a pure function of an ArchSpec."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sharesnet.spec import ArchSpec
from sharesnet.stage import Stage


class Stem(nn.Module):
    """CIFAR: 3x3 conv (+BN-ReLU unless pre-act); ImageNet: 7x7/2 conv, BN-ReLU, 3x3/2 max-pool."""

    def __init__(self, spec: ArchSpec):
        super().__init__()
        imagenet = spec.stem == "imagenet"
        k, stride = (7, 2) if imagenet else (3, 1)
        self.conv = nn.Conv2d(spec.in_channels, spec.stem_width, k, stride, k // 2, bias=False)
        # Pre-act CIFAR nets start their first block with BN-ReLU, so the stem is a bare conv.
        self.bn = nn.BatchNorm2d(spec.stem_width) if (imagenet or not spec.preact) else None
        self.pool = nn.MaxPool2d(3, 2, 1) if imagenet else None
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = F.relu(self.bn(x))
        return self.pool(x) if self.pool is not None else x


class Head(nn.Module):
    """Final BN-ReLU for pre-act nets, global average pool, linear classifier."""

    def __init__(self, spec: ArchSpec):
        super().__init__()
        width = spec.stages[-1].width
        self.bn = nn.BatchNorm2d(width) if spec.preact else None
        self.fc = nn.Linear(width, spec.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bn is not None:
            x = F.relu(self.bn(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class ShaResNet(nn.Module):
    def __init__(self, spec: ArchSpec):
        super().__init__()
        self.spec = spec
        self.stem = Stem(spec)
        self.stages = nn.ModuleList(Stage(spec, s) for s in range(len(spec.stages)))
        self.head = Head(spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.head(x)


def build_model(spec: ArchSpec) -> ShaResNet:
    """Build the network a spec describes; shared convs are single Parameters."""
    return ShaResNet(spec)
