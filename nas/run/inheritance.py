"""Weight inheritance in a search: the space's largest plain net is trained once, as the
parent of every candidate, and each candidate then only fine-tunes from its weights
(sharesnet/inherit.py has the rules: first blocks, first channels, shared = group mean).

The parent is the unshared base grown to every stage's largest depth and width choice,
so every candidate of the space fits in it and inherits: none trains from scratch.
Its checkpoint is `<experiment>/parent/last.pt` (spec, recipe, seed and weights, as every
checkpoint). No Ray here: nas/run/parent.py trains the parent, nas/run/trainable.py fine-tunes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from nas.space.codec import decode
from nas.space.config import SearchSpace
from sharesnet.inherit import inherit_state
from sharesnet.spec import ArchSpec
from sharesnet.train.checkpoint import LAST, read

PARENT_DIR = "parent"


def largest_parent(space: SearchSpace) -> ArchSpec:
    """The unshared base at every stage's largest depth and width (or width_mult) choice."""
    return decode(_Largest(), space).unshared()


class _Largest:
    """A Suggester that takes the largest depth and width and any sharing (dropped after)."""

    def suggest_categorical(self, name: str, choices: list) -> Any:
        return max(choices) if name == "width_mult" or name.endswith((".depth", ".width")) else choices[0]


def parent_checkpoint(exp_dir: Path) -> Path:
    return Path(exp_dir) / PARENT_DIR / LAST


def initial_state(parent_path: str | None, spec: ArchSpec) -> dict[str, torch.Tensor] | None:
    """A trial's first weights: inherited from the parent checkpoint at `parent_path`, or None."""
    if not parent_path:
        return None
    ckpt = read(parent_path)
    return inherit_state(ckpt["model"], ArchSpec.from_dict(ckpt["spec"]), spec)
