"""Recipe: every training hyper-parameter in one typed, frozen, serialisable record.

`lr` is the base learning rate for batch 128; the optimiser uses
lr * batch_size / 128 (the linear scaling rule, Goyal et al. 2017), so a recipe keeps
its meaning when only the batch size changes.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from sharesnet.hints import did_you_mean

Schedule = Literal["cosine", "multistep"]
BASE_BATCH = 128


class RecipeError(ValueError):
    """An invalid recipe; the message names the key. `key` and `detail` let a caller that holds the
    recipe under another name (a search space's `train:`) report it under its own key path."""

    def __init__(self, message: str, key: str | None = None, detail: str | None = None):
        super().__init__(message)
        self.key, self.detail = key, detail or message


@dataclass(frozen=True)
class Recipe:
    epochs: int = 15
    batch_size: int = 128
    lr: float = 0.1  # base lr at batch 128; effective = lr * batch_size / 128
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4  # not applied to BatchNorm weights, biases or soft coefficients (ndim <= 1)
    schedule: Schedule = "cosine"
    warmup_epochs: float = 0.0  # cosine: linear warm-up, stepped per iteration
    milestones: tuple[float, ...] = ()  # multistep: values < 1 are fractions of epochs, else epochs
    gamma: float = 0.1  # multistep: lr factor at each milestone
    label_smoothing: float = 0.0
    seed: int = 0  # model init, data order and augmentation
    crop_padding: int | None = None  # None: the dataset's default
    flip: bool | None = None  # None: the dataset's default
    cutout: int | None = None  # None: the dataset's default (off)
    compile: bool = False  # torch.compile the model; CUDA only, ignored on CPU
    precision: str = "auto"  # auto: bf16 autocast on CUDA and on CPUs with native bf16 (AMX/AVX512-BF16); fp32; bf16
    name: str = ""  # a label only
    # Train only the first N epochs of this schedule, the lr where the whole run would have it:
    # a short trial that is the start of the final training (the first rung of a successive-halving
    # ladder) rather than a squeezed copy of it. None: all `epochs`.
    stop_after: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "milestones", tuple(self.milestones))
        _validate(self)

    @property
    def last_epoch(self) -> int:
        """The epoch a training with this recipe ends after."""
        return self.epochs if self.stop_after is None else self.stop_after

    @property
    def effective_lr(self) -> float:
        return self.lr * self.batch_size / BASE_BATCH

    def with_epochs(self, epochs: int) -> "Recipe":
        """The same schedule over `epochs`: absolute milestones become fractions of the run.

        Without this, `wrn` cut to 6 epochs keeps milestones 60/120/160 and its lr never
        decays. Warm-up needs nothing: lr_factor caps it at half the run.
        """
        if epochs == self.epochs:
            return self
        milestones = tuple(m if m < 1 else m / self.epochs for m in self.milestones)
        # A new length is a new whole run (e.g. an inherited candidate's fine-tune): no cut inherited.
        return dataclasses.replace(self, epochs=epochs, milestones=milestones, stop_after=None)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["milestones"] = list(self.milestones)
        if self.stop_after is None:  # absent unless used: the hashes of recipes made before it stay the same
            del d["stop_after"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "recipe") -> "Recipe":
        """Build from a mapping; unknown keys raise RecipeError with a did-you-mean."""
        if not isinstance(d, dict):
            raise RecipeError(f"{where}: expected a mapping, got {type(d).__name__}")
        known = [f.name for f in dataclasses.fields(cls)]
        for key in d:
            if key not in known:
                hint = did_you_mean(key, known)
                raise RecipeError(f"{where}: unknown key '{key}'; {hint}", key=key, detail=f"unknown key; {hint}")
        return cls(**d)



def _validate(r: Recipe) -> None:
    checks = [  # tests, not values: one of the wrong type is reported as a bad value, not a TypeError
        ("epochs", lambda: isinstance(r.epochs, int) and r.epochs >= 1, "a positive integer"),
        ("batch_size", lambda: isinstance(r.batch_size, int) and r.batch_size >= 1, "a positive integer"),
        ("lr", lambda: r.lr > 0, "positive"),
        ("momentum", lambda: r.momentum >= 0, "non-negative"),
        ("weight_decay", lambda: r.weight_decay >= 0, "non-negative"),
        ("schedule", lambda: r.schedule in ("cosine", "multistep"), "'cosine' or 'multistep'"),
        ("warmup_epochs", lambda: r.warmup_epochs >= 0, "non-negative (capped at half the run)"),
        ("milestones", lambda: all(m > 0 for m in r.milestones), "positive numbers"),
        ("gamma", lambda: r.gamma > 0, "positive"),
        ("label_smoothing", lambda: 0 <= r.label_smoothing < 1, "in [0, 1)"),
        ("crop_padding", lambda: r.crop_padding is None or r.crop_padding >= 0, "None or >= 0"),
        ("cutout", lambda: r.cutout is None or r.cutout >= 0, "None or >= 0"),
        ("precision", lambda: r.precision in ("auto", "fp32", "bf16"), "'auto', 'fp32' or 'bf16'"),
    ]
    for key, ok, want in checks:
        try:
            good = ok()
        except TypeError:  # e.g. lr: '1.0e8', which YAML 1.1 reads as a string
            good = False
        if not good:
            detail = f"must be {want}, got {getattr(r, key)!r}"
            raise RecipeError(f"recipe.{key}: {detail}", key=key, detail=detail)
    if r.stop_after is not None and not (isinstance(r.stop_after, int) and 1 <= r.stop_after <= r.epochs):
        detail = (f"must be an epoch of the {r.epochs}-epoch schedule (1..{r.epochs}) or null, got {r.stop_after!r}; "
                  "raise `epochs` to stop part way through a longer schedule")
        raise RecipeError(f"recipe.stop_after: {detail}", key="stop_after", detail=detail)
    late = [m for m in r.milestones if m >= max(1, r.epochs)]
    if late:  # a milestone the run never reaches means an lr that never decays
        detail = (f"{late[0]:g} is not below epochs ({r.epochs}), so the lr would never decay there; give "
                  "milestones below epochs, or as fractions of the run (< 1)")
        raise RecipeError(f"recipe.milestones: {detail}", key="milestones", detail=detail)
