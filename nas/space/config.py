"""SearchSpace: a YAML file validated into one typed, frozen record.

The YAML mirrors the spec: the data, a base architecture, what varies and how, the
training recipe of a trial, objectives, constraints, sampler and budget. Loading reports
every problem at once, each naming the file, the key path and what was expected.
See search_spaces/README.md for the commented schema.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from nas.space.problems import SpaceError
from sharesnet.data.imagefolder import image_channels
from sharesnet.spec import ArchSpec
from sharesnet.train import Recipe

DATASETS = {  # name -> (in_channels, num_classes, image side); imagefolder: read from the folder
    "digits": (1, 10, 8), "cifar10": (3, 10, 32), "cifar100": (3, 100, 32), "imagefolder": (3, None, None)}
PATTERNS = ("none", "stage", "ranges", "sequence", "cycle")
# The accuracy a search ranks by, its score: val_acc on the held-out split, or train_acc, the
# last epoch's running training accuracy. On CIFAR-10 the first 4 of 15 epochs scored by
# train_acc ranked nine retrained nets at Spearman 0.77, by val_acc 0.23: mid-schedule, with
# the lr still high, val_acc is a snapshot of moving weights (docs/results/fidelity-cifar10-cpu).
SCORES = ("val_acc", "train_acc")
OBJECTIVES = {"val_acc": "max", "train_acc": "max", "params": "min", "flops": "min"}
SAMPLERS = ("nsga2", "nsga3", "tpe", "random", "qmc", "gp")
ENCODINGS = ("conditional", "fixed")
REPEATS = ("resample", "reuse")
WARM_STARTS = ("plain", "paper")
# Keys of SearchSpace.resolved() that experiments began before: a resume compares them only when there.
RESOLVED_LATER = ("depth", "width", "width_mult", "early_stopping")
TOP_KEYS = {
    "name": "experiment name", "data": "dataset and split", "base": "base architecture",
    "vary": "what the search changes", "train": "trial recipe", "objectives": "what to optimise",
    "constraints": "budgets checked before training", "sampler": "Optuna sampler",
    "trials": "architectures to train", "warm_start": "points evaluated first (plain, paper, {proposals: DIR})",
    "early_stopping": "ASHA on the score (val_acc or train_acc)", "inherit": "fine-tune candidates from a trained parent",
    "reevaluate": "train the best candidates again with more seeds before export"}


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "digits"
    data_dir: str | None = None
    val_fraction: float = 0.1
    split_seed: int = 0
    limit: int | None = None  # cap on training images, for smoke runs
    # The side trained on, which FLOPs are counted at. Fixed for digits (8) and cifar (32).
    # imagefolder: None = the images' own size (one-size folders held in memory), filled in
    # by nas.space.datacheck.check_data; a streamed folder needs it: the side of its square crops.
    image_size: int | None = None

    @property
    def input_size(self) -> tuple[int, int, int]:
        """(C, H, W) the model sees; imagefolder channels come from its first train image (3 if unreadable)."""
        channels, _, side = DATASETS[self.dataset]
        if self.dataset == "imagefolder":
            channels, side = image_channels(self.data_dir) or channels, self.image_size
        if side is None:
            raise SpaceError("data.image_size is null (the images' own size) and not resolved yet: "
                             "nas.space.datacheck.check_data(space, log) reads it from the images")
        return (channels, side, side)

    def load_kwargs(self) -> dict[str, Any]:
        extra = {"image_size": self.image_size} if self.dataset == "imagefolder" else {}
        return {"name": self.dataset, "data_dir": self.data_dir, "val_fraction": self.val_fraction,
                "split_seed": self.split_seed, "limit": self.limit, **extra}


@dataclass(frozen=True)
class SharingConfig:
    positions: tuple[str, ...] = ("conv1", "conv2", "conv3")  # conv positions that may share
    patterns: tuple[str, ...] = PATTERNS
    k: tuple[int, ...] = (2, 3)  # weight sets for `sequence` and `cycle`
    stages: tuple[int, ...] | None = None  # stage indices (0-based) that may share; None = all


@dataclass(frozen=True)
class SamplerConfig:
    name: str = "nsga2"
    seed: int = 0
    population_size: int = 16  # nsga2 / nsga3
    n_startup_trials: int = 8  # tpe / gp: random trials before the model kicks in
    # conditional: cuts and k only under the patterns that use them; fixed: every parameter in
    # every trial, so NSGA-II/TPE/GP model them all. Measured on the quickstart (README,
    # docs/results/sampler-quickstart): fixed did not raise the hypervolume, so not the default.
    encoding: str = "conditional"
    # resample: a proposal of an architecture already trained (or training) is closed as
    # FAIL, which Optuna's samplers ignore, and the sampler asked again; reuse: it is told
    # the earlier result, taking a population / history slot (experiments before resample).
    repeats: str = "resample"


@dataclass(frozen=True)
class EarlyStopping:
    grace_epochs: int = 1
    reduction_factor: int = 3


@dataclass(frozen=True)
class InheritConfig:
    finetune_epochs: int = 2  # each candidate: the parent's weights, then this many epochs of the trial recipe
    lr: float | None = None  # base lr of the fine-tune; None: the trial recipe's


@dataclass(frozen=True)
class ReevalConfig:
    # After the budget: the `top` best candidates (by non-dominated rank, then val_acc) and the
    # plain/paper baselines train again until each has `seeds` seeds, so the export can state
    # the proxy's own seed noise and which differences exceed it. One seed of a short trial
    # moves val_acc by several points (docs/results/fidelity-cifar10-cpu): more than the
    # differences it ranks.
    top: int = 4
    seeds: int = 2
    rounds: int = 2  # re-rank and repeat while the top holds nets with fewer seeds, at most this often


@dataclass(frozen=True)
class SearchSpace:
    name: str
    source: str
    data: DataConfig
    base: ArchSpec
    depth: tuple[tuple[int, ...], ...] | None  # per-stage depth choices
    width: tuple[tuple[int, ...], ...] | None  # per-stage width choices
    width_mult: tuple[float, ...] | None  # or one multiplier for every width
    sharing: SharingConfig
    recipe: Recipe
    objectives: tuple[tuple[str, str], ...]  # (name, direction)
    max_params: int | None
    max_flops: int | None
    sampler: SamplerConfig
    trials: int
    warm_start: tuple[str, ...]
    early_stopping: EarlyStopping | None
    inherit: InheritConfig | None = None  # None: every candidate trains from scratch
    reevaluate: ReevalConfig | None = None  # None: one seed per candidate
    # `warm_start: [{proposals: DIR}]`: folders (or proposals.yaml files) of scripts/propose.py,
    # whose mask proposals are evaluated first, after plain and paper
    warm_start_proposals: tuple[str, ...] = ()
    raw: dict = dataclasses.field(compare=False, repr=False, default_factory=dict)

    @property
    def metric_names(self) -> list[str]:
        return [name for name, _ in self.objectives]

    @property
    def score(self) -> str:
        """The accuracy objective the search ranks and re-evaluates by (see SCORES)."""
        return score_of(self.metric_names)

    @property
    def modes(self) -> list[str]:
        return [direction for _, direction in self.objectives]

    @property
    def trial_recipe(self) -> Recipe:
        """What one candidate trains with: the recipe, or with inheritance its fine-tune (schedule scaled)."""
        if self.inherit is None:
            return self.recipe
        tune = self.recipe.with_epochs(self.inherit.finetune_epochs)
        return dataclasses.replace(tune, lr=self.inherit.lr) if self.inherit.lr else tune

    def resolved(self) -> dict[str, Any]:
        """The space with every default filled in, for the experiment folder."""
        # `inherit`, `reevaluate` and proposals only when used, so experiments made before they existed still resume.
        optional = {"inherit": dataclasses.asdict(self.inherit)} if self.inherit else {}
        optional |= {"reevaluate": dataclasses.asdict(self.reevaluate)} if self.reevaluate else {}
        optional |= {"warm_start_proposals": list(self.warm_start_proposals)} if self.warm_start_proposals else {}
        return {**self.raw, "resolved": {**optional,
            "base": self.base.to_dict(), "recipe": self.recipe.to_dict(),
            "data": dataclasses.asdict(self.data), "sampler": dataclasses.asdict(self.sampler),
            "sharing": dataclasses.asdict(self.sharing), "objectives": [list(o) for o in self.objectives],
            "trials": self.trials, "warm_start": list(self.warm_start),
            "max_params": self.max_params, "max_flops": self.max_flops,
            # Each stage's choices, fixed ones as one-item lists: a reader sees what was searched.
            "depth": [list(c) for c in self.depth] if self.depth else [[st.depth] for st in self.base.stages],
            "width": [list(c) for c in self.width] if self.width else
            None if self.width_mult else [[st.width] for st in self.base.stages],
            "width_mult": list(self.width_mult) if self.width_mult else None,
            "early_stopping": dataclasses.asdict(self.early_stopping) if self.early_stopping else None}}


def score_of(objective_names: list[str]) -> str:
    """The score among a space's objective names: its accuracy objective, val_acc when it has none."""
    return next((n for n in objective_names if n in SCORES), "val_acc")
