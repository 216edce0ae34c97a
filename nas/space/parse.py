"""load_space / parse_space: a search-space YAML validated into one typed SearchSpace.

Every problem is reported at once, each naming the file, the key path and what was expected;
then the budgets are checked against the space's smallest architecture (nas/space/budget.py).
See search_spaces/README.md for the commented schema.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from nas.space.budget import check_budgets
from nas.space.config import (
    DATASETS,
    ENCODINGS,
    OBJECTIVES,
    PATTERNS,
    REPEATS,
    SAMPLERS,
    SCORES,
    TOP_KEYS,
    WARM_STARTS,
    DataConfig,
    EarlyStopping,
    InheritConfig,
    ReevalConfig,
    SamplerConfig,
    SearchSpace,
    SharingConfig,
)
from nas.space.problems import Problems, is_int, read_yaml
from sharesnet.data.imagefolder import image_channels
from sharesnet.hints import did_you_mean_aside
from sharesnet.registry import get_spec, list_models
from sharesnet.spec import CONV_POSITIONS, ArchSpec, SpecError
from sharesnet.train import Recipe, RecipeError, get_recipe, list_recipes


def load_space(path: str | Path) -> SearchSpace:
    """Read and validate a search-space YAML file; SpaceError lists every problem."""
    return parse_space(read_yaml(path, "search-space file", "search_spaces/"), str(path))


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
        warm_start_proposals=_warm_start_proposals(top.get("warm_start")),
        early_stopping=_early_stopping(pb, top.get("early_stopping")),
        inherit=_inherit(pb, top.get("inherit")), reevaluate=_reevaluate(pb, top.get("reevaluate", True)), raw=raw)
    cons = pb.mapping(top.get("constraints"), "constraints", {"max_params": "", "max_flops": ""})
    for key in ("max_params", "max_flops"):
        if cons.get(key) is not None:
            space[key] = pb.check(_number(cons[key]), f"constraints.{key}", lambda v: v > 0,
                                  "a positive number (e.g. 250000 or 2.5e5)")
    pb.raise_if_any()
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
    scores = [n for n, _ in out if n in SCORES]
    if len(scores) > 1:
        pb.add("objectives", f"{' and '.join(scores)} are both accuracy scores; keep one (train_acc ranks short "
                             f"prefix trials better, val_acc is the held-out score)")
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
    """The named warm starts; `{proposals: DIR}` items are checked here and kept by _warm_start_proposals."""
    if v in (None, False):
        return ()
    if not isinstance(v, list):
        pb.add("warm_start", f"expected a list drawn from {', '.join(WARM_STARTS)} and {{proposals: DIR}} "
                             f"items (or [] for none)")
        return ()
    names = []
    for i, x in enumerate(v):
        if isinstance(x, dict):
            pb.mapping(x, f"warm_start[{i}]", {"proposals": "a folder written by scripts/propose.py"})
            pb.check(x.get("proposals"), f"warm_start[{i}].proposals", lambda p: isinstance(p, str) and p,
                     "a path: the --out folder of scripts/propose.py, or the proposals.yaml in it")
        elif x in WARM_STARTS:
            names.append(x)
        else:
            pb.add(f"warm_start[{i}]", f"expected one of {', '.join(WARM_STARTS)} or a mapping {{proposals: DIR}} "
                                       f"(DIR: the --out folder of scripts/propose.py), got {x!r}"
                                       + did_you_mean_aside(x, WARM_STARTS))
    return tuple(names)


def _warm_start_proposals(v: Any) -> tuple[str, ...]:
    """The proposal folders of `warm_start` (validated by _warm_start); read when the search starts."""
    items = v if isinstance(v, list) else []
    return tuple(x["proposals"] for x in items if isinstance(x, dict) and isinstance(x.get("proposals"), str)
                 and x["proposals"])


def _early_stopping(pb: Problems, v: Any) -> EarlyStopping | None:
    positive = lambda low: (lambda x: is_int(x) and x >= low, f"an integer >= {low}")  # noqa: E731
    return _block(pb, v, "early_stopping", EarlyStopping, {"grace_epochs": positive(1), "reduction_factor": positive(2)})


def _inherit(pb: Problems, v: Any) -> InheritConfig | None:
    lr = (lambda x: x is None or (isinstance(x, (int, float)) and x > 0), "a positive number or null (the trial recipe's)")
    return _block(pb, v, "inherit", InheritConfig,
                  {"finetune_epochs": (lambda x: is_int(x) and x >= 1, "an integer >= 1"), "lr": lr})


def _reevaluate(pb: Problems, v: Any) -> ReevalConfig | None:
    return _block(pb, v, "reevaluate", ReevalConfig, {
        "top": (lambda x: is_int(x) and x >= 1, "an integer >= 1 (or reevaluate: false for one seed per candidate)"),
        "seeds": (lambda x: is_int(x) and x >= 2, "an integer >= 2: seeds per re-evaluated candidate, its first included"),
        "rounds": (lambda x: is_int(x) and x >= 1, "an integer >= 1")})


def _block(pb: Problems, v: Any, key: str, cls, fields: dict) -> Any:
    """An optional block: absent/false = off (None), true = its defaults, a mapping = checked fields."""
    if v in (None, False):
        return None
    if v is True:
        return cls()
    v = pb.mapping(v, key, fields)
    defaults = cls()
    values = {}
    for name, (ok, expected) in fields.items():
        got = pb.check(_number(v[name]) if name in v else getattr(defaults, name), f"{key}.{name}", ok, expected)
        values[name] = getattr(defaults, name) if got is None else got
    return cls(**values)
