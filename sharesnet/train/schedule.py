"""Learning-rate factor as a pure function of the global step: resuming needs only the step."""
from __future__ import annotations

import math

from sharesnet.train.recipe import Recipe


def lr_factor(recipe: Recipe, step: int, steps_per_epoch: int) -> float:
    """Multiplier of the effective lr at optimiser step `step` (0-based)."""
    total = recipe.epochs * steps_per_epoch
    if recipe.schedule == "multistep":
        passed = sum(step >= s for s in milestone_steps(recipe, steps_per_epoch))
        return recipe.gamma ** passed
    # Warm-up takes at most half the run, so a 1-epoch smoke or search trial still anneals.
    warmup = min(round(recipe.warmup_epochs * steps_per_epoch), total // 2)
    if step < warmup:
        return (step + 1) / warmup  # linear from lr/warmup up to lr
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def milestone_epochs(recipe: Recipe) -> list[float]:
    """Milestones in epochs; values below 1 are fractions of the run."""
    return [m * recipe.epochs if m < 1 else m for m in recipe.milestones]


def milestone_steps(recipe: Recipe, steps_per_epoch: int) -> list[int]:
    """Milestones as step counts."""
    return [round(e * steps_per_epoch) for e in milestone_epochs(recipe)]
