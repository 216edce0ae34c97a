"""Checkpoints: atomic `last.pt` writes, exact-resume validation, and rebuilding a model
from the file alone (the spec travels inside)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from sharesnet.files import replace_atomically
from sharesnet.model import build_model
from sharesnet.spec import ArchSpec

FORMAT = 1
LAST = "last.pt"
_LABEL_KEYS = ("name", "compile")  # recipe keys that do not change what is trained


def save_atomic(payload: dict[str, Any], path: Path) -> None:
    """torch.save to `path` atomically: a crash never leaves half a checkpoint."""
    replace_atomically(path, lambda fh: torch.save(payload, fh))


def read(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    return torch.load(path, map_location=map_location, weights_only=True)


def saved_epoch(path: str | Path) -> int | None:
    """The last finished epoch stored in a checkpoint, or None when there is none."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return int(read(path)["epoch"])
    except Exception:  # noqa: BLE001 - a torn or foreign file counts as no checkpoint
        return None


def check_resumable(ckpt: dict[str, Any], expected: dict[str, Any], path: Path) -> None:
    """Refuse to resume a checkpoint of another spec, recipe, dataset or train_on."""
    problems = []
    if ArchSpec.from_dict(ckpt["spec"]).arch_id != ArchSpec.from_dict(expected["spec"]).arch_id:
        problems.append("spec differs (arch_id "
                        f"{ArchSpec.from_dict(ckpt['spec']).arch_id} vs {ArchSpec.from_dict(expected['spec']).arch_id})")
    problems += _diff("recipe", _strip(ckpt["recipe"]), _strip(expected["recipe"]))
    # Checkpoints from before the streaming loader existed were all in memory.
    problems += _diff("data", {"loader": "memory", **ckpt["data"]}, expected["data"])
    if ckpt["train_on"] != expected["train_on"]:
        problems.append(f"train_on: {ckpt['train_on']!r} vs {expected['train_on']!r}")
    if problems:
        raise ValueError(f"cannot resume from {path}: it belongs to another run: " + "; ".join(problems)
                         + ". Use another checkpoint_dir or delete the file to start afresh.")


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model from the checkpoint alone and load its weights; returns (model, checkpoint)."""
    ckpt = read(path, map_location)
    model = build_model(ArchSpec.from_dict(ckpt["spec"]))
    model.load_state_dict(ckpt["model"])
    return model.to(map_location), ckpt


def _strip(recipe: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in recipe.items() if k not in _LABEL_KEYS}


def _diff(what: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [f"{what}.{k}: {old.get(k)!r} in checkpoint vs {new.get(k)!r} now" for k in keys
            if old.get(k) != new.get(k)]
