"""A fidelity plan: which architectures, which cheap proxies, which final recipe to rank against.

The plan is a small YAML file (see search_spaces/fidelity/). A proxy is the space's own
trial (data and recipe) with a few keys overridden; `average: 2` scores a net by the mean of
2 seeds. The architectures are the space's plain and paper nets, members of a search's
front, and unshared nets of matched size. The final recipe is what the proxies must predict:
the retraining's mean test accuracy, reused from train_final folders where one exists.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nas.space.config import DataConfig, SearchSpace
from nas.space.matched import KINDS, matched_plain
from nas.space.parse import load_space
from nas.space.problems import Problems, is_int, read_yaml
from sharesnet.rules import paper_sharing
from sharesnet.spec import ArchSpec
from sharesnet.train import Recipe
from sharesnet.train.presets import get_recipe
from sharesnet.train.recipe import RecipeError

DATA_KEYS = {"limit": "training images (null: all)", "val_fraction": "share of the training data held out"}
RECIPE_KEYS = {"epochs": "", "lr": "", "label_smoothing": "", "batch_size": "", "warmup_epochs": "",
               "weight_decay": "", "stop_after": "train only the schedule's first N epochs"}
PROXY_KEYS = {**DATA_KEYS, **RECIPE_KEYS, "average": "seeds averaged per score", "seeds": "scores per net",
              "score": "val_acc (last epoch) or train_acc (the last epoch's running training accuracy)"}
# What a run is scored by. train_acc: the accuracy on the training batches of the last epoch, a
# mean over every step of it, where val_acc is one snapshot of the weights: in the middle of a
# high-lr schedule that snapshot moves by several points from one epoch to the next. Ranking by
# training speed is what "Speedy Performance Estimation for NAS" (Ru et al., NeurIPS 2021) found
# to beat early val accuracy. It never touches the validation or test images.
SCORES = ("val_acc", "train_acc")
TOP_KEYS = {"space": "", "seeds": "", "top_k": "", "proxies": "", "archs": "", "final": ""}
ARCH_KEYS = {"baselines": "", "pareto": "", "select": "", "matched": "", "sizes": ""}
FINAL_KEYS = {"recipe": "", "epochs": "", "seeds": "", "reuse": ""}


@dataclass(frozen=True)
class Proxy:
    name: str
    data: DataConfig
    recipe: Recipe  # seed = the first seed; realisation j uses seeds first + j*average ... + average-1
    average: int = 1  # seeds averaged into one score
    seeds: int = 2  # scores per architecture (realisations), for its seed spread
    score: str = "val_acc"  # or train_acc (SCORES)

    def score_of(self, run: dict) -> float | None:
        """This proxy's score of one cached run; None where the run did not record it (train_acc
        is recorded since 2026-12-03)."""
        if self.score == "train_acc":
            return (run.get("train_history") or [None])[-1]
        return run["val_acc"]

    def seed_groups(self) -> list[list[int]]:
        first = self.recipe.seed
        return [[first + j * self.average + i for i in range(self.average)] for j in range(self.seeds)]

    def recipe_for(self, seed: int) -> Recipe:
        return dataclasses.replace(self.recipe, seed=seed)


@dataclass(frozen=True)
class Arch:
    name: str  # shown in tables, beside the arch_id
    role: str  # baseline | front | matched | preset
    spec: ArchSpec


@dataclass(frozen=True)
class Final:
    data: DataConfig  # the space's data, no limit: trains on train+val, tests on the full test split
    recipe: Recipe
    seeds: int
    reuse: tuple[Path, ...]  # train_final output folders whose matching results count

    def recipe_for(self, seed: int) -> Recipe:
        return dataclasses.replace(self.recipe, seed=self.recipe.seed + seed)


@dataclass(frozen=True)
class Plan:
    source: str
    space: SearchSpace
    proxies: tuple[Proxy, ...]
    archs: tuple[Arch, ...]
    final: Final
    top_k: int = 3


def load_plan(path: str | Path, data_dir: str | None = None) -> Plan:
    """Read and check a plan; SpaceError lists every problem, one line each."""
    return parse_plan(read_yaml(path, "fidelity plan", "search_spaces/fidelity/"), str(path), data_dir)


def parse_plan(raw: Any, source: str, data_dir: str | None = None) -> Plan:
    pb = Problems(source)
    top = pb.mapping(raw, "", TOP_KEYS)
    if not isinstance(raw, dict) or "space" not in raw:
        pb.add("space", "required: the search-space YAML whose data, base net and trial recipe the proxies vary")
        pb.raise_if_any()
    space = load_space(top["space"])
    if data_dir:
        space = dataclasses.replace(space, data=dataclasses.replace(space.data, data_dir=data_dir))
    seeds = pb.check(top.get("seeds", 2), "seeds", lambda v: is_int(v) and v >= 1, "a positive integer")
    top_k = pb.check(top.get("top_k", 3), "top_k", lambda v: is_int(v) and v >= 1, "a positive integer")
    proxies = _proxies(pb, top.get("proxies"), space, seeds or 2)
    archs = _archs(pb, top.get("archs"), space)
    final = _final(pb, top.get("final"), space)
    pb.raise_if_any()
    return Plan(source, space, tuple(proxies), tuple(archs), final, top_k)


def _proxies(pb: Problems, raw: Any, space: SearchSpace, seeds: int) -> list[Proxy]:
    if not isinstance(raw, dict) or not raw:
        pb.add("proxies", "expected a mapping of proxy name -> overrides of the space's trial, e.g. "
                          "{today: {}, short: {epochs: 2, limit: null}}")
        return []
    out = []
    for name, over in raw.items():
        where = f"proxies.{name}"
        over = pb.mapping(over, where, PROXY_KEYS)
        data = dataclasses.replace(space.data, **{k: over[k] for k in DATA_KEYS if k in over})
        if data.limit is not None and not (is_int(data.limit) and data.limit >= 1):
            pb.add(f"{where}.limit", f"expected a positive integer or null, got {data.limit!r}")
        if not (isinstance(data.val_fraction, (int, float)) and 0 < data.val_fraction < 1):
            pb.add(f"{where}.val_fraction", f"expected a fraction in (0, 1), got {data.val_fraction!r}")
        try:
            recipe = space.trial_recipe
            if "epochs" in over:
                recipe = recipe.with_epochs(over["epochs"])
            # The name stays the space's: two proxies that train alike then share their runs.
            recipe = Recipe.from_dict({**recipe.to_dict(), **{k: over[k] for k in RECIPE_KEYS if k in over}},
                                      where=where)
        except (RecipeError, TypeError) as e:
            pb.add(where, str(e))
            continue
        average = pb.check(over.get("average", 1), f"{where}.average", lambda v: is_int(v) and v >= 1,
                           "a positive integer")
        n = pb.check(over.get("seeds", seeds), f"{where}.seeds", lambda v: is_int(v) and v >= 1, "a positive integer")
        score = pb.choice(over.get("score", "val_acc"), f"{where}.score", SCORES)
        out.append(Proxy(str(name), data, recipe, average or 1, n or 1, score or "val_acc"))
    return out


def _archs(pb: Problems, raw: Any, space: SearchSpace) -> list[Arch]:
    top = pb.mapping(raw, "archs", ARCH_KEYS)
    plain = space.base.unshared()
    named = {"plain": plain, "paper": paper_sharing(plain)}
    archs = []
    for tag in top.get("baselines", ["plain", "paper"]) or []:
        if pb.choice(tag, "archs.baselines", list(named)) is not None:
            archs.append(Arch(tag, "baseline", named[tag]))
    front = _front(pb, top, space)
    archs += front
    for kind in top.get("matched", []) or []:
        if pb.choice(kind, "archs.matched", KINDS) is None:
            continue
        for member in front:
            spec = matched_plain(space.base, params_of(member.spec), kind)
            archs.append(Arch(f"{spec.name} ({kind}, matches {member.name})", "matched", spec))
    sizes = top.get("sizes", []) or []
    if not (isinstance(sizes, list) and all(is_int(n) and n > 0 for n in sizes)):
        pb.add("archs.sizes", f"expected a list of parameter counts, got {sizes!r}")
        sizes = []
    for n in sizes:  # unshared nets at given sizes, when there is no front to match
        for kind in top.get("matched", None) or ["shallower"]:
            if kind in KINDS:
                spec = matched_plain(space.base, n, kind)
                archs.append(Arch(f"{spec.name} ({kind}, near {n:,} params)", "matched", spec))
    unique: dict[str, Arch] = {}
    for a in archs:  # one net once, under the first name it was asked by
        unique.setdefault(a.spec.arch_id, a)
    if len(unique) < 3:
        pb.add("archs", f"{len(unique)} distinct architecture(s): rank statistics need at least 3")
    return list(unique.values())


def _front(pb: Problems, top: dict, space: SearchSpace) -> list[Arch]:
    if "pareto" not in top:
        return []
    path = Path(top["pareto"])
    if not path.is_file():
        pb.add("archs.pareto", f"{path}: no such pareto file (a search writes one: experiments/<name>/pareto.yaml)")
        return []
    front = (yaml.safe_load(path.read_text()) or {}).get("front") or []
    chosen = top.get("select", list(range(len(front))))
    out = []
    for i in chosen if isinstance(chosen, list) else [chosen]:
        if not (is_int(i) and 0 <= i < len(front)):
            pb.add("archs.select", f"{i!r} is not a front index of {path} (0..{len(front) - 1})")
            continue
        spec = ArchSpec.from_dict(front[i]["spec"], where=f"{path}: front[{i}].spec")
        out.append(Arch(f"front #{i}", "front", spec))
    return out


def _final(pb: Problems, raw: Any, space: SearchSpace) -> Final:
    top = pb.mapping(raw, "final", FINAL_KEYS)
    recipe = space.recipe
    try:
        recipe = get_recipe(top.get("recipe", space.recipe.name or "fast"),
                            **({"epochs": top["epochs"]} if "epochs" in top else {}))
    except RecipeError as e:
        pb.add("final", str(e))
    seeds = pb.check(top.get("seeds", 2), "final.seeds", lambda v: is_int(v) and v >= 1, "a positive integer")
    reuse = top.get("reuse", []) or []
    for folder in reuse:
        if not Path(folder).is_dir():
            pb.add("final.reuse", f"{folder}: no such folder (a train_final --out folder)")
    return Final(dataclasses.replace(space.data, limit=None), recipe, seeds or 1, tuple(Path(r) for r in reuse))


def params_of(spec: ArchSpec) -> int:
    """Parameters, each counted once (a build, no FLOP count)."""
    from sharesnet import build_model, count_params

    return count_params(build_model(spec))
