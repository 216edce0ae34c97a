"""Optuna samplers by name. Budgets reach the constraint-aware ones (nsga2, nsga3, tpe,
gp) through `Trial.set_constraint`, which the searcher calls for every candidate."""
from __future__ import annotations

import dataclasses

import optuna

from nas.space.config import SamplerConfig


def make_sampler(cfg: SamplerConfig, trials_so_far: int = 0) -> optuna.samplers.BaseSampler:
    """The sampler of `cfg`; a resumed study reseeds it with the number of trials it holds, since a
    restarted random stream would propose the first run's candidates again (each one a wasted,
    reused proposal). QMC keeps its seed: it continues its own sequence from the trial count."""
    s = optuna.samplers
    if cfg.name != "qmc":
        cfg = dataclasses.replace(cfg, seed=cfg.seed + trials_so_far)
    if cfg.name == "nsga2":
        return s.NSGAIISampler(population_size=cfg.population_size, seed=cfg.seed)
    if cfg.name == "nsga3":
        return s.NSGAIIISampler(population_size=cfg.population_size, seed=cfg.seed)
    if cfg.name == "tpe":
        return s.TPESampler(n_startup_trials=cfg.n_startup_trials, seed=cfg.seed, multivariate=True)
    if cfg.name == "gp":
        return s.GPSampler(n_startup_trials=cfg.n_startup_trials, seed=cfg.seed, warn_independent_sampling=False)
    if cfg.name == "qmc":
        return s.QMCSampler(seed=cfg.seed, warn_independent_sampling=False, warn_asynchronous_seeding=False)
    return s.RandomSampler(seed=cfg.seed)
