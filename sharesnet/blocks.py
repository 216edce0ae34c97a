"""Residual blocks that take their conv weights as arguments.

A block owns only what is never shared (its shortcut projection). Conv weights and
BatchNorms live in the stage's bank (`stage.py`) and are handed in at each call, so a
shared weight is one Parameter used by several blocks, with no aliasing tricks.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ShortcutA(nn.Module):
    """Zero-padded identity (He et al. 2016, CIFAR option A): subsample, pad channels."""

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.stride, self.pad = stride, out_ch - in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.pad)) if self.pad else x


class ShortcutB(nn.Module):
    """1x1 projection; followed by BN in post-activation nets (torchvision's downsample)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, norm: bool):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False)
        self.bn = nn.BatchNorm2d(out_ch) if norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


def make_shortcut(kind: str, in_ch: int, out_ch: int, stride: int, preact: bool) -> nn.Module | None:
    """None where the identity fits; otherwise the requested kind of shortcut."""
    if stride == 1 and in_ch == out_ch:
        return None
    if kind == "A":
        return ShortcutA(in_ch, out_ch, stride)
    return ShortcutB(in_ch, out_ch, stride, norm=not preact)


class Block(nn.Module):
    """Basic or bottleneck residual block, post- or pre-activation."""

    def __init__(self, kind: str, preact: bool, strides: tuple[int, ...], shortcut: nn.Module | None):
        super().__init__()
        self.kind, self.preact, self.strides = kind, preact, strides
        self.shortcut = shortcut
        # A zero-padding shortcut carries the raw input even in pre-act blocks.
        self._project_preactivated = preact and isinstance(shortcut, ShortcutB)

    def _conv(self, x: torch.Tensor, w: torch.Tensor, i: int) -> torch.Tensor:
        return F.conv2d(x, w, stride=self.strides[i], padding=w.shape[-1] // 2)

    def forward(self, x: torch.Tensor, weights: list[torch.Tensor], norms: list[nn.Module]) -> torch.Tensor:
        return self._pre(x, weights, norms) if self.preact else self._post(x, weights, norms)

    def _post(self, x, weights, norms):
        out = x
        last = len(weights) - 1
        for i, (w, bn) in enumerate(zip(weights, norms)):
            out = bn(self._conv(out, w, i))
            if i < last:
                out = F.relu(out)
        identity = x if self.shortcut is None else self.shortcut(x)
        return F.relu(out + identity)

    def _pre(self, x, weights, norms):
        out = F.relu(norms[0](x))
        if self.shortcut is None:
            identity = x
        else:
            identity = self.shortcut(out if self._project_preactivated else x)
        for i, w in enumerate(weights):
            if i > 0:
                out = F.relu(norms[i](out))
            out = self._conv(out, w, i)
        return out + identity
