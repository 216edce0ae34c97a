"""The training engine: `train(spec, recipe, data)` -> TrainResult, recipes, checkpoints."""
from sharesnet.train.checkpoint import load_checkpoint
from sharesnet.train.presets import get_recipe, list_recipes, load_recipe
from sharesnet.train.recipe import Recipe, RecipeError
from sharesnet.train.result import DivergedError, TrainResult
from sharesnet.train.trainer import train

__all__ = ["train", "Recipe", "RecipeError", "get_recipe", "list_recipes", "TrainResult",
           "DivergedError", "load_checkpoint", "load_recipe"]
