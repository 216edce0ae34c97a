"""A candidate: a decoded spec with its build-time costs, checked against the budgets.

Parameters and FLOPs are known before any training, so budgets reject candidates here,
in the driver, at no GPU cost. Costs are cached by arch_id: samplers repeat themselves.
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass

from nas.space.config import SearchSpace
from sharesnet import build_model, count_flops, count_params
from sharesnet.spec import ArchSpec


@dataclass(frozen=True)
class Candidate:
    spec: ArchSpec
    params: int
    flops: int
    violations: tuple[str, ...]  # human-readable budget breaches; () when feasible
    constraint_values: tuple[float, float]  # Optuna convention: > 0 means infeasible
    key: str  # arch_id + recipe: equal keys give equal trainings

    @property
    def arch_id(self) -> str:
        return self.spec.arch_id


def evaluate_costs(spec: ArchSpec, space: SearchSpace) -> Candidate:
    params, flops = costs(spec, space.data.input_size)
    violations, values = [], [-1.0, -1.0]
    for i, (name, value, limit) in enumerate((("params", params, space.max_params),
                                              ("flops", flops, space.max_flops))):
        if limit is not None:
            values[i] = float(value - limit)
            if value > limit:
                violations.append(f"{name} {value:,} > max_{name} {int(limit):,}")
    return Candidate(spec, params, flops, tuple(violations), tuple(values), trial_key(spec, space))


@functools.lru_cache(maxsize=4096)
def costs(spec: ArchSpec, input_size: tuple[int, int, int]) -> tuple[int, int]:
    """(parameters, fvcore FLOPs at batch 1) of a spec."""
    model = build_model(spec)
    return count_params(model), count_flops(model, input_size)


def recipe_hash(space: SearchSpace) -> str:
    body = {"recipe": space.trial_recipe.to_dict(), "data": space.data.load_kwargs()}
    if space.inherit:  # a fine-tune of the parent is another training than one from scratch
        from nas.run.inheritance import largest_parent

        body["inherit"] = {"parent": largest_parent(space).arch_id, "parent_recipe": space.recipe.to_dict()}
    return hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()[:8]


def trial_key(spec: ArchSpec, space: SearchSpace) -> str:
    """Same architecture + same recipe and data = same training: de-duplicate on this."""
    return f"{spec.arch_id}-{recipe_hash(space)}"
