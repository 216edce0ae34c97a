"""How well do the samplers use a search's trainings? One search = the real ShareSearch
(decode, costs, dedup, journal) asked for proposals one at a time, each new architecture
trained for real under the space's trial recipe, in this process (no Ray workers: the
measurement is of the proposals, not of scheduling).

Per search it measures
- repeat share: proposals that repeated an architecture already trained (or rejected);
- slots taken by repeats: Optuna trials told a result their architecture already had
  (each one an NSGA-II population slot or a TPE history point spent on no new information);
- outside-model share: parameter values drawn outside the sampler's model, i.e. outside
  the intersection search space of the trials finished before, after the sampler's
  random start-up (NSGA-II: the first generation; TPE: n_startup_trials);
- hypervolume of (val_acc, params[, flops]) after N trainings, with the space's fixed
  reference (the one pareto.csv reports), so runs compare.

Trained results are cached by (architecture, recipe) key in `cache.jsonl`: a search trains
each architecture once with a fixed seed, so another search proposing it would get the same
result. The cache only saves the bench from training twice, and lets a killed run resume.
"""
from __future__ import annotations

import dataclasses
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import optuna
from optuna.search_space import intersection_search_space

from nas.report.export import reference_bounds
from nas.report.pareto import normalized_hypervolume
from nas.search.candidate import Candidate
from nas.search.journal import Journal
from nas.search.rows import Status
from nas.search.searcher import ShareSearch
from nas.space.codec import encode, warm_start_specs
from nas.space.config import SearchSpace

MODES = {"before": {"encoding": "conditional", "repeats": "reuse"},  # main before issue 10
         "after": {"encoding": "fixed", "repeats": "resample"},
         # each change alone, to tell their effects apart
         "fixed-only": {"encoding": "fixed", "repeats": "reuse"},
         "resample-only": {"encoding": "conditional", "repeats": "resample"}}


@dataclasses.dataclass
class Run:
    mode: str
    sampler: str
    seed: int
    trainings: int
    proposals: int
    repeats: int
    slots_repeated: int
    slots: int
    outside: int
    sampled: int
    hypervolume: float

    def row(self) -> dict:
        return {**dataclasses.asdict(self), "repeat_share": self.repeats / max(1, self.proposals),
                "slot_repeat_share": self.slots_repeated / max(1, self.slots),
                "outside_share": self.outside / self.sampled if self.sampled else None}


class Trainer:
    """Trains a candidate once, in this process; results are cached on disk by key."""

    def __init__(self, space: SearchSpace, cache: Path, threads: int, log: Callable[[str], None]):
        import torch

        from sharesnet.data import load_data

        torch.set_num_threads(threads)
        self.space, self.path, self.log = space, cache, log
        self.data = load_data(**space.data.load_kwargs())
        self.results = {}
        if cache.exists():
            self.results = {r["key"]: r for r in map(json.loads, cache.read_text().splitlines())}
        self.trained_now = 0

    def __call__(self, cand: Candidate) -> dict:
        if cand.key not in self.results:
            from sharesnet.train import train

            start = time.perf_counter()
            res = train(cand.spec, self.space.recipe, self.data)
            row = {"key": cand.key, "arch_id": cand.arch_id, "status": Status.OK, "val_acc": res.val_acc_last,
                   "epoch": res.epochs_run, "train_time_s": res.train_time_s,
                   "wall_time_s": time.perf_counter() - start}
            with self.path.open("a") as f:
                f.write(json.dumps(row) + "\n")
            self.results[cand.key] = row
            self.trained_now += 1
        return self.results[cand.key]


def run_one(space: SearchSpace, mode: str, sampler: str, seed: int, trainings: int, trainer: Trainer) -> Run:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler_cfg = dataclasses.replace(space.sampler, name=sampler, seed=seed, **MODES[mode])
    space = dataclasses.replace(space, sampler=sampler_cfg, trials=trainings)
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(Path(tmp))
        cands: dict[str, Candidate] = {}

        def config(cand: Candidate) -> dict:
            cands[cand.key] = cand
            return {"key": cand.key}

        searcher = ShareSearch(space, journal, optuna.storages.InMemoryStorage(), config, log=lambda m: None)
        for name, spec in warm_start_specs(space).items():
            params = encode(spec, space)
            if params is not None:
                searcher.study.enqueue_trial(params, user_attrs={"warm_start": name})
        for i in range(trainings):
            got = searcher.suggest(f"t{i}")
            if not isinstance(got, dict):
                break  # the space is exhausted
            searcher.on_trial_complete(f"t{i}", trainer(cands[got["key"]]))
        return _measure(space, mode, sampler, seed, journal, searcher.study)


def _measure(space: SearchSpace, mode: str, sampler: str, seed: int, journal: Journal, study: optuna.Study) -> Run:
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    seen, slots_repeated = set(), 0
    for t in complete:
        slots_repeated += t.user_attrs["arch_id"] in seen
        seen.add(t.user_attrs["arch_id"])
    startup = space.sampler.population_size if sampler in ("nsga2", "nsga3") else space.sampler.n_startup_trials
    outside = sampled = 0
    if sampler in ("nsga2", "nsga3", "tpe", "gp"):
        for t in trials:
            before = [c for c in complete if c.number < t.number]
            if "warm_start" in t.user_attrs or len(before) < startup:
                continue  # enqueued, or drawn during the sampler's random start-up anyway
            inside = intersection_search_space(before)
            sampled += len(t.params)
            outside += sum(name not in inside for name in t.params)
    names, modes = space.metric_names, space.modes
    points = [[r[m] for m in names] for r in journal.candidates()]
    hv, _ = normalized_hypervolume(points, modes, names, reference_bounds(space.resolved()["resolved"], names))
    return Run(mode, sampler, seed, journal.trained(), len(trials), sum(1 for r in journal.rows if r.get("reused_from")),
               slots_repeated, len(complete), outside, sampled, hv)


def summary(runs: list[Run]) -> list[str]:
    """A Markdown table: mean (std) over seeds per mode and sampler."""
    def cell(values: list[float | None], pct: bool) -> str:
        values = [v for v in values if v is not None]
        if not values:
            return "n/a"
        m, sd = statistics.mean(values), statistics.pstdev(values)
        return f"{100 * m:.1f}% ({100 * sd:.1f})" if pct else f"{m:.4f} ({sd:.4f})"

    lines = ["| sampler | mode | searches | proposals | repeat share | sampler slots on repeats | "
             "params outside the model | hypervolume |", "|---|---|---|---|---|---|---|---|"]
    for sampler in dict.fromkeys(r.sampler for r in runs):
        for mode in MODES:
            rows = [r.row() for r in runs if r.sampler == sampler and r.mode == mode]
            if rows:
                lines.append(f"| {sampler} | {mode} | {len(rows)} | {statistics.mean(r['proposals'] for r in rows):.1f} | "
                             f"{cell([r['repeat_share'] for r in rows], True)} | "
                             f"{cell([r['slot_repeat_share'] for r in rows], True)} | "
                             f"{cell([r['outside_share'] for r in rows], True)} | "
                             f"{cell([r['hypervolume'] for r in rows], False)} |")
    return lines


def ratios(runs: list[Run]) -> str:
    """The last line: hypervolume after / before per sampler, from the same run."""
    parts = []
    for sampler in dict.fromkeys(r.sampler for r in runs):
        hv = {m: [r.hypervolume for r in runs if r.sampler == sampler and r.mode == m] for m in MODES}
        if hv["before"] and hv["after"]:
            parts.append(f"hv_ratio_{sampler}={statistics.mean(hv['after']) / statistics.mean(hv['before']):.3f}")
    return " ".join(parts)
