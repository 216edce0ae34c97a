"""Optuna samplers by name. Budgets reach the constraint-aware ones (nsga2, nsga3, tpe,
gp) through `Trial.set_constraint`, which the searcher calls for every candidate."""
from __future__ import annotations

import optuna

from nas.space import SamplerConfig


def make_sampler(cfg: SamplerConfig) -> optuna.samplers.BaseSampler:
    s = optuna.samplers
    if cfg.name == "nsga2":
        return s.NSGAIISampler(population_size=cfg.population_size, seed=cfg.seed)
    if cfg.name == "nsga3":
        return s.NSGAIIISampler(population_size=cfg.population_size, seed=cfg.seed)
    if cfg.name == "tpe":
        return s.TPESampler(n_startup_trials=cfg.n_startup_trials, seed=cfg.seed, multivariate=True, warn_independent_sampling=False)
    if cfg.name == "gp":
        return s.GPSampler(n_startup_trials=cfg.n_startup_trials, seed=cfg.seed, warn_independent_sampling=False)
    if cfg.name == "qmc":
        return s.QMCSampler(seed=cfg.seed, warn_independent_sampling=False, warn_asynchronous_seeding=False)
    return s.RandomSampler(seed=cfg.seed)
