"""A stage: its blocks plus the bank of conv weights (and BatchNorms) they draw from.

The bank holds one Parameter per sharing group, named `conv{p}_{group}`; a block with
label g at position p uses `weights[f"conv{p}_{g}"]`. Names follow from the canonical
mask alone, so state dicts are deterministic and store each shared tensor once.
A soft position (spec `soft`) holds templates and coefficients instead (sharesnet/soft.py);
its mixed weights are computed once per forward and handed to the blocks the same way.
"""
from __future__ import annotations

import torch
from torch import nn

from sharesnet import soft
from sharesnet.blocks import Block, make_shortcut
from sharesnet.spec import ArchSpec


class Stage(nn.Module):
    def __init__(self, spec: ArchSpec, s: int):
        super().__init__()
        st = spec.stages[s]
        self.weights = nn.ParameterDict()
        self.norms = nn.ModuleDict()
        self.blocks = nn.ModuleList()
        self._conv_keys: list[list[str | None]] = []  # None: the block's mixed soft weight
        self._norm_keys: list[list[str]] = []
        self._soft: dict[int, list[str]] = {}  # soft position -> coefficient keys of blocks 1..
        self._soft_shape: dict[int, tuple[int, ...]] = {}  # soft position -> weight shape of blocks 1..
        for p in range(len(spec.positions)):  # before the hard weights; hard specs draw the RNG as before
            if st.templates(p):
                self._add_bank(spec, s, p)
        for b in range(st.depth):
            conv_keys, norm_keys = [], []
            for p in range(len(spec.positions)):
                group = st.mask(p)[b]
                key = None if (b > 0 and p in self._soft) else f"conv{p + 1}_{group}"
                if key is not None and key not in self.weights:
                    self.weights[key] = nn.Parameter(_kaiming(spec.conv_shape(s, b, p)))
                conv_keys.append(key)
                norm_keys.append(self._add_norm(spec, s, b, p, group))
            strides = tuple(spec.conv_stride(s, b, p) for p in range(len(spec.positions)))
            in_ch = spec.stage_in_channels(s) if b == 0 else st.width
            shortcut = make_shortcut(spec.shortcut, in_ch, st.width, strides and max(strides), spec.preact)
            self.blocks.append(Block(spec.block, spec.preact, strides, shortcut))
            self._conv_keys.append(conv_keys)
            self._norm_keys.append(norm_keys)

    def _add_bank(self, spec: ArchSpec, s: int, p: int) -> None:
        st = spec.stages[s]
        k, shape = st.templates(p), spec.conv_shape(s, 1, p)
        self.weights[soft.bank_key(p)] = nn.Parameter(soft.init_bank(k, shape, _kaiming))
        self._soft_shape[p] = shape
        alpha = soft.init_coefficients(st.depth - 1, k)
        self._soft[p] = [soft.coef_key(p, b) for b in range(1, st.depth)]
        for key, row in zip(self._soft[p], alpha):
            self.weights[key] = nn.Parameter(row.clone())

    def _add_norm(self, spec: ArchSpec, s: int, b: int, p: int, group: int) -> str:
        # Post-act: BN normalises the conv's output; pre-act: the conv's input.
        shape = spec.conv_shape(s, b, p)
        channels = shape[1] if spec.preact else shape[0]
        key = f"bn{p + 1}_{'g' + str(group) if spec.share_norm else b}"
        if key not in self.norms:
            self.norms[key] = nn.BatchNorm2d(channels)
        return key

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = {p: soft.mix(self.weights[soft.bank_key(p)], [self.weights[k] for k in keys], self._soft_shape[p])
                 for p, keys in self._soft.items()}
        for b, (block, conv_keys, norm_keys) in enumerate(zip(self.blocks, self._conv_keys, self._norm_keys)):
            weights = [self.weights[k] if k is not None else mixed[p][b - 1] for p, k in enumerate(conv_keys)]
            norms = [self.norms[k] for k in norm_keys]
            x = block(x, weights, norms)
        return x


def _kaiming(shape: tuple[int, ...]) -> torch.Tensor:
    # torchvision's ResNet init: Kaiming normal, fan_out, ReLU gain.
    w = torch.empty(shape)
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    return w
