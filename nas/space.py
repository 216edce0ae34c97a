"""SearchSpace: a YAML file validated into one typed, frozen record.

The YAML mirrors the spec: the data, a base architecture, what varies and how, the
training recipe of a trial, objectives, constraints, sampler and budget. Loading reports
every problem at once, each naming the file, the key path and what was expected.
See search_spaces/README.md for the commented schema.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nas.schema import Problems, SpaceError, is_int
from sharesnet.data.imagefolder import image_channels
from sharesnet.registry import get_spec, list_models
from sharesnet.spec import CONV_POSITIONS, ArchSpec, SpecError
from sharesnet.train import Recipe, RecipeError, get_recipe, list_recipes

DATASETS = {  # name -> (in_channels, num_classes, image side); imagefolder: read from the folder
    "digits": (1, 10, 8), "cifar10": (3, 10, 32), "cifar100": (3, 100, 32), "imagefolder": (3, None, None)}
PATTERNS = ("none", "stage", "ranges", "sequence", "cycle")
OBJECTIVES = {"val_acc": "max", "params": "min", "flops": "min"}
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
    "trials": "architectures to train", "warm_start": "points evaluated first",
    "early_stopping": "ASHA on val_acc", "inherit": "fine-tune candidates from a trained parent"}


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "digits"
    data_dir: str | None = None
    val_fraction: float = 0.1
    split_seed: int = 0
    limit: int | None = None  # cap on training images, for smoke runs
    # The side trained on, which FLOPs are counted at. Fixed for digits (8) and cifar (32).
    # imagefolder: None = the images' own size (one-size folders held in memory), filled in
    # by nas.datacheck.check_data; a streamed folder needs it: the side of its square crops.
    image_size: int | None = None

    @property
    def input_size(self) -> tuple[int, int, int]:
        """(C, H, W) the model sees; imagefolder channels come from its first train image (3 if unreadable)."""
        channels, _, side = DATASETS[self.dataset]
        if self.dataset == "imagefolder":
            channels, side = image_channels(self.data_dir) or channels, self.image_size
        if side is None:
            raise SpaceError("data.image_size is null (the images' own size) and not resolved yet: "
                             "nas.datacheck.check_data(space, log) reads it from the images")
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
    raw: dict = dataclasses.field(compare=False, repr=False, default_factory=dict)

    @property
    def metric_names(self) -> list[str]:
        return [name for name, _ in self.objectives]

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
        # `inherit` only when on, so experiments made before it existed still resume.
        inherit = {"inherit": dataclasses.asdict(self.inherit)} if self.inherit else {}
        return {**self.raw, "resolved": {**inherit,
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


def load_space(path: str | Path) -> SearchSpace:
    """Read and validate a search-space YAML file; SpaceError lists every problem."""
    path = Path(path)
    if not path.is_file():
        raise SpaceError(f"{path}: no such search-space file (see search_spaces/ for examples)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise SpaceError(f"{path}: not valid YAML: {e}") from None
    return parse_space(raw, str(path))


def parse_space(raw: Any, source: str = "<space>") -> SearchSpace:
    pb = Problems(source)
    top = pb.mapping(raw if raw is not None else {}, "", TOP_KEYS)
    if raw is None or not isinstance(raw, dict):
        pb.add("(top level)", "expected a mapping with keys " + ", ".join(TOP_KEYS))
        pb.raise_if_any()
    data = _data(pb, top.get("data"))
    base = _base(pb, top.get("base"), data)
    vary = pb.mapping(top.get("vary"), "vary", {"depth": "", "width": "", "width_mult": "", "sharing": ""})
    n_stages = len(base.stages) if base else 0
    depth = _per_stage(pb, vary.get("depth"), "vary.depth", n_stages)
    width = _per_stage(pb, vary.get("width"), "vary.width", n_stages)
    width_mult = _width_mult(pb, vary.get("width_mult"))
    if width and width_mult:
        pb.add("vary.width_mult", "give either vary.width or vary.width_mult, not both")
    space = dict(
        name=pb.check(top.get("name", Path(source).stem), "name", lambda v: isinstance(v, str) and v, "a string"),
        source=source, data=data, base=base, depth=depth, width=width, width_mult=width_mult,
        sharing=_sharing(pb, vary.get("sharing"), base),
        recipe=_recipe(pb, top.get("train")),
        objectives=_objectives(pb, top.get("objectives", ["val_acc", "params"])),
        max_params=None, max_flops=None, sampler=_sampler(pb, top.get("sampler")),
        trials=pb.check(top.get("trials", 20), "trials", lambda v: is_int(v) and v >= 1, "a positive integer"),
        warm_start=_warm_start(pb, top.get("warm_start", list(WARM_STARTS))),
        early_stopping=_early_stopping(pb, top.get("early_stopping")),
        inherit=_inherit(pb, top.get("inherit")), raw=raw)
    cons = pb.mapping(top.get("constraints"), "constraints", {"max_params": "", "max_flops": ""})
    for key in ("max_params", "max_flops"):
        if cons.get(key) is not None:
            space[key] = pb.check(_number(cons[key]), f"constraints.{key}", lambda v: v > 0,
                                  "a positive number (e.g. 250000 or 2.5e5)")
    pb.raise_if_any()
    from nas.budget import check_budgets  # builds the cheapest net: only for a space valid otherwise

    check_budgets(SearchSpace(**space))
    return SearchSpace(**space)


def _number(v: Any) -> Any:
    """YAML 1.1 reads `2.5e5` as a string; accept it as the number it means."""
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return v
    return None if isinstance(v, bool) else v


def _data(pb: Problems, d: Any) -> DataConfig:
    fields = {"dataset": "", "data_dir": "", "val_fraction": "", "split_seed": "", "limit": "", "image_size": ""}
    d = pb.mapping(d, "data", fields)
    out = DataConfig()
    dataset = pb.choice(d.get("dataset", "digits"), "data.dataset", list(DATASETS))
    val = pb.check(d.get("val_fraction", 0.1), "data.val_fraction", lambda v: 0 < v < 1, "a fraction in (0, 1)")
    seed = pb.check(d.get("split_seed", 0), "data.split_seed", is_int, "an integer")
    limit = d.get("limit")
    if limit is not None:
        limit = pb.check(limit, "data.limit", lambda v: is_int(v) and v > 0, "a positive integer or null")
    if dataset == "imagefolder" and not d.get("data_dir"):
        pb.add("data.data_dir", "imagefolder needs data_dir: a folder holding train/ and test/ (or val/)")
    return dataclasses.replace(out, dataset=dataset or "digits", data_dir=d.get("data_dir"),
                               val_fraction=val or 0.1, split_seed=seed or 0, limit=limit,
                               image_size=_image_size(pb, d.get("image_size"), dataset))


def _image_size(pb: Problems, v: Any, dataset: str | None) -> int | None:
    """A fixed dataset's side (any other value is an error); imagefolder: as given, null allowed."""
    side = DATASETS[dataset][2] if dataset else None
    if v is not None and pb.check(v, "data.image_size", lambda x: is_int(x) and x > 0,
                                  "a positive integer or null") is None:
        return side
    if side is not None and v not in (None, side):
        pb.add("data.image_size", f"{dataset} images are {side}x{side}; leave image_size out "
                                  f"(it is for imagefolder)")
    return side if side is not None else v


def _base(pb: Problems, b: Any, data: DataConfig) -> ArchSpec | None:
    b = pb.mapping(b, "base", {"preset": "", "overrides": "", "spec": ""})
    if ("preset" in b) == ("spec" in b):
        pb.add("base", f"give exactly one of base.preset (one of: {', '.join(list_models())}) or base.spec")
        return None
    try:
        spec = get_spec(b["preset"], **dataset_overrides(data, b.get("overrides") or {})) if "preset" in b \
            else ArchSpec.from_dict({**dataset_overrides(data, {}), **(b["spec"] or {})}, where="base.spec")
    except (SpecError, TypeError) as e:
        pb.add("base.preset" if "preset" in b else "base.spec", str(e))
        return None
    return spec


def dataset_overrides(data: DataConfig, overrides: dict) -> dict:
    """Input channels and classes follow from the dataset unless the space overrides them."""
    channels, classes, _ = DATASETS[data.dataset]
    if data.dataset == "imagefolder" and data.data_dir:
        train = Path(data.data_dir) / "train"
        classes = len([p for p in train.iterdir() if p.is_dir()]) if train.is_dir() else None
        channels = image_channels(data.data_dir) or channels  # grayscale folders decode to 1 channel
    auto = {"in_channels": channels} | ({"num_classes": classes} if classes else {})
    return auto | dict(overrides)


def _per_stage(pb: Problems, v: Any, path: str, n_stages: int) -> tuple[tuple[int, ...], ...] | None:
    """`[1, 2, 3]` applies to every stage; `[[1, 2], [2, 4], [2]]` gives each its own."""
    if v is None or not n_stages:
        return None
    if isinstance(v, list) and v and all(isinstance(x, list) for x in v):
        if len(v) != n_stages:
            pb.add(path, f"expected {n_stages} lists (one per stage of the base), got {len(v)}")
            return None
        lists = [pb.int_list(x, f"{path}[{i}]") for i, x in enumerate(v)]
        return tuple(lists) if all(lists) else None
    one = pb.int_list(v, path)
    return tuple(one for _ in range(n_stages)) if one else None


def _width_mult(pb: Problems, v: Any) -> tuple[float, ...] | None:
    if v is None:
        return None
    ok = isinstance(v, list) and v and all(isinstance(x, (int, float)) and x > 0 for x in v)
    return tuple(float(x) for x in v) if pb.check(v, "vary.width_mult", lambda _: ok,
                                                  "a non-empty list of positive numbers") else None


def _sharing(pb: Problems, v: Any, base: ArchSpec | None) -> SharingConfig:
    v = pb.mapping(v, "vary.sharing", {"positions": "", "patterns": "", "k": "", "stages": ""})
    allowed = CONV_POSITIONS[base.block] if base else CONV_POSITIONS["bottleneck"]
    positions = v.get("positions", list(allowed))
    if isinstance(positions, list):
        for i, p in enumerate(positions):
            pb.choice(p, f"vary.sharing.positions[{i}]", allowed)
    else:
        pb.add("vary.sharing.positions", f"expected a list drawn from {', '.join(allowed)}")
    patterns = v.get("patterns", list(PATTERNS))
    if isinstance(patterns, list) and patterns:
        for i, p in enumerate(patterns):
            pb.choice(p, f"vary.sharing.patterns[{i}]", PATTERNS)
    else:
        pb.add("vary.sharing.patterns", f"expected a non-empty list drawn from {', '.join(PATTERNS)}")
    k = pb.int_list(v.get("k", [2, 3]), "vary.sharing.k") or (2, 3)
    stages = v.get("stages")
    if stages is not None and base:
        stages = pb.int_list(stages, "vary.sharing.stages", minimum=0)
        if stages and max(stages) >= len(base.stages):
            pb.add("vary.sharing.stages", f"stage indices are 0-based; the base has {len(base.stages)} stages")
    return SharingConfig(tuple(p for p in positions if p in allowed) if isinstance(positions, list) else (),
                         tuple(patterns) if isinstance(patterns, list) else PATTERNS, tuple(k),
                         tuple(stages) if stages else None)


def _recipe(pb: Problems, v: Any) -> Recipe:
    if v is not None and not isinstance(v, dict):
        pb.add("train", "expected a mapping like {recipe: fast, epochs: 10}")
    v = dict(v) if isinstance(v, dict) else {}
    # YAML 1.1 reads `lr: 1.0e8` as a string: a float field takes the number it means, as constraints do.
    floats = {f.name for f in dataclasses.fields(Recipe) if isinstance(f.default, float)}
    v = {k: _number(x) if k in floats else x for k, x in v.items()}
    name = v.pop("recipe", "fast")
    if name not in list_recipes():
        pb.choice(name, "train.recipe", list_recipes())
        return get_recipe("fast")
    try:
        return get_recipe(name, **v)
    except RecipeError as e:  # named by its key in this file (`train.epochs`), not the recipe's own
        pb.add(f"train.{e.key}" if e.key else "train", e.detail)
    except TypeError as e:
        pb.add("train", str(e))
    return get_recipe("fast")


def _objectives(pb: Problems, v: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(v, list) or not v:
        pb.add("objectives", "expected a non-empty list, e.g. [val_acc, params] or [{name: flops, direction: min}]")
        return ()
    out = []
    for i, item in enumerate(v):
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(item, dict):
            pb.mapping(item, f"objectives[{i}]", {"name": "", "direction": ""})
        if pb.choice(name, f"objectives[{i}]", list(OBJECTIVES)) is None:
            continue
        direction = item.get("direction", OBJECTIVES[name]) if isinstance(item, dict) else OBJECTIVES[name]
        if direction != OBJECTIVES[name]:
            pb.add(f"objectives[{i}].direction", f"{name} is always {OBJECTIVES[name]}imised, got {direction!r}")
        out.append((name, OBJECTIVES[name]))
    if len({n for n, _ in out}) != len(out):
        pb.add("objectives", "each objective may appear once")
    return tuple(out)


def _sampler(pb: Problems, v: Any) -> SamplerConfig:
    v = pb.mapping(v, "sampler", {f.name: "" for f in dataclasses.fields(SamplerConfig)})
    out = SamplerConfig()
    good = {"name": pb.choice(v.get("name", out.name), "sampler.name", SAMPLERS) or out.name,
            "encoding": pb.choice(v.get("encoding", out.encoding), "sampler.encoding", ENCODINGS) or out.encoding,
            "repeats": pb.choice(v.get("repeats", out.repeats), "sampler.repeats", REPEATS) or out.repeats}
    for key in ("seed", "population_size", "n_startup_trials"):
        if key in v:
            low = 0 if key == "seed" else 2
            if pb.check(v[key], f"sampler.{key}", lambda x: is_int(x) and x >= low, f"an integer >= {low}") is not None:
                good[key] = v[key]
    return dataclasses.replace(out, **good)


def _warm_start(pb: Problems, v: Any) -> tuple[str, ...]:
    if v in (None, False):
        return ()
    if not isinstance(v, list):
        pb.add("warm_start", f"expected a list drawn from {', '.join(WARM_STARTS)} (or [] for none)")
        return ()
    return tuple(x for i, x in enumerate(v) if pb.choice(x, f"warm_start[{i}]", WARM_STARTS))


def _early_stopping(pb: Problems, v: Any) -> EarlyStopping | None:
    if v in (None, False):
        return None
    if v is True:
        return EarlyStopping()
    v = pb.mapping(v, "early_stopping", {"grace_epochs": "", "reduction_factor": ""})
    grace = pb.check(v.get("grace_epochs", 1), "early_stopping.grace_epochs", lambda x: is_int(x) and x >= 1,
                     "an integer >= 1")
    factor = pb.check(v.get("reduction_factor", 3), "early_stopping.reduction_factor",
                      lambda x: is_int(x) and x >= 2, "an integer >= 2")
    return EarlyStopping(grace or 1, factor or 3)


def _inherit(pb: Problems, v: Any) -> InheritConfig | None:
    if v in (None, False):
        return None
    if v is True:
        return InheritConfig()
    v = pb.mapping(v, "inherit", {"finetune_epochs": "", "lr": ""})
    epochs = pb.check(v.get("finetune_epochs", 2), "inherit.finetune_epochs", lambda x: is_int(x) and x >= 1,
                      "an integer >= 1")
    lr = v.get("lr")
    if lr is not None:
        lr = pb.check(_number(lr), "inherit.lr", lambda x: isinstance(x, (int, float)) and x > 0,
                      "a positive number or null (the trial recipe's)")
    return InheritConfig(epochs or 2, float(lr) if lr else None)
