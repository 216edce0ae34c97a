"""Named recipes: `get_recipe(name, **overrides)`, `list_recipes()`, `load_recipe(file)`, `resolve_recipe(name or file)`."""
from __future__ import annotations

from pathlib import Path

import yaml

from sharesnet.hints import close_match, maybe_did_you_mean
from sharesnet.train.recipe import Recipe, RecipeError

_RECIPES: dict[str, Recipe] = {
    # He et al. 2016 (arXiv:1512.03385) Sec. 4.2: SGD lr 0.1, batch 128, wd 1e-4, momentum 0.9;
    # lr /10 at 32k and 48k iterations, stop at 64k. 64k iterations x 128 / 45k images
    # = 182 epochs; 32k and 48k iterations = epochs 91 and 136. He used plain momentum.
    "he2016": Recipe(epochs=182, batch_size=128, lr=0.1, weight_decay=1e-4, nesterov=False,
                     schedule="multistep", milestones=(91, 136), gamma=0.1, name="he2016"),
    # Boulch 2017 (ShaResNet, arXiv:1702.08782) trains CIFAR as Zagoruyko & Komodakis 2016
    # (WRN, arXiv:1605.07146): 200 epochs, Nesterov, lr 0.1 x0.2 at 60/120/160, wd 5e-4, batch 128.
    "wrn": Recipe(epochs=200, batch_size=128, lr=0.1, weight_decay=5e-4, nesterov=True,
                  schedule="multistep", milestones=(60, 120, 160), gamma=0.2, name="wrn"),
    # Short search-trial schedule: cosine (Loshchilov & Hutter 2017, SGDR) with one warm-up
    # epoch, label smoothing 0.1 (Szegedy et al. 2016). Effective lr 0.2 at batch 256.
    "fast": Recipe(epochs=15, batch_size=256, lr=0.1, weight_decay=5e-4, nesterov=True,
                   schedule="cosine", warmup_epochs=1, label_smoothing=0.1, name="fast"),
}


def list_recipes() -> list[str]:
    return list(_RECIPES)


def get_recipe(name: str, **overrides) -> Recipe:
    """A named recipe with fields overridden; unknown names and keys raise RecipeError.

    An `epochs` override keeps the recipe's shape (milestones scale with the run) unless
    `milestones` is given too.
    """
    if name not in _RECIPES:
        raise RecipeError(f"unknown recipe '{name}'{maybe_did_you_mean(name, _RECIPES)} "
                          f"(known: {', '.join(_RECIPES)})")
    base = _RECIPES[name]
    if "epochs" in overrides and "milestones" not in overrides:
        base = base.with_epochs(overrides["epochs"])  # a bad value fails validation, naming the key
    return Recipe.from_dict({**base.to_dict(), **overrides}, where=f"recipe '{name}'")


def load_recipe(path: str | Path) -> Recipe:
    """Read a recipe from YAML; a `base: <named recipe>` key starts from a preset."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"{path}: no such recipe file")
    data = yaml.safe_load(path.read_text()) or {}
    if isinstance(data, dict) and "base" in data:
        base = data.pop("base")
        return get_recipe(base, **data)  # an `epochs:` here rescales the base's milestones
    return Recipe.from_dict(data, where=str(path))


def resolve_recipe(value: str) -> Recipe:
    """A named recipe, or a recipe YAML file; anything else gets a did-you-mean."""
    if value in _RECIPES:
        return get_recipe(value)
    if Path(value).is_file() or Path(value).suffix in (".yaml", ".yml", ".json"):
        return load_recipe(value)  # a missing file is named as such
    hit = close_match(value, _RECIPES)
    hint = f"did you mean '{hit}'? (or give a recipe YAML file)" if hit else \
        f"known: {', '.join(_RECIPES)}, or give a recipe YAML file"
    raise RecipeError(f"unknown recipe '{value}'; {hint}")

