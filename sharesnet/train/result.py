"""TrainResult and DivergedError: what a training run returns or raises."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


class DivergedError(RuntimeError):
    """The loss became non-finite; the last good checkpoint (previous epoch) is kept."""

    def __init__(self, epoch: int, reason: str):
        super().__init__(f"training diverged in epoch {epoch}: {reason}")
        self.epoch = epoch
        self.reason = reason


@dataclass(frozen=True)
class TrainResult:
    val_acc_best: float | None  # None when training on train+val (no held-out val)
    val_acc_last: float | None
    test_acc: float | None  # None unless evaluate_test=True
    history: list[dict[str, Any]]  # one metrics dict per epoch (resumed epochs included)
    epochs_run: int  # epochs completed in total, across resumes
    wall_time_s: float  # this call, end to end
    train_time_s: float  # this call, inside training and evaluation steps only
    images_per_s: float | None  # training throughput of this call's epochs
    peak_memory_bytes: int  # CUDA max_memory_allocated, or the growth of CPU max RSS
    stopped_early: bool  # on_epoch asked to stop
    seed: int
    spec: dict[str, Any] = field(default_factory=dict)  # the full ArchSpec dict
    recipe: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)  # DataBundle.info()
    train_on: str = "train"
    device: str = "cpu"
    test_loss: float | None = None
    precision: str = "fp32"  # "bf16" when autocast was on
    resumed_at_epoch: int = 0  # epochs already done in the checkpoint this call resumed from (0: fresh)
    images_trained: int = 0  # training images stepped on in all epochs run, resumed ones included

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
