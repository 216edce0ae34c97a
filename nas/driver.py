"""run_search: the Ray Tune + Optuna driver behind scripts/search.py.

Experiment folder layout:
  space.yaml            the space as given, plus every resolved default
  optuna.db             the Optuna study (open it with `optuna-dashboard sqlite:///optuna.db`)
  trials.jsonl, trials.csv   one row per candidate: trained, reused, rejected, failed
  checkpoints/<key>/    per-epoch checkpoints of each training (resume mid-trial)
  ray/run-N/            Ray Tune's own results, one folder per (re)start
  pareto.*              the Pareto export, written at the end
"""
from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Callable

import optuna
import yaml

from nas.candidate import Candidate
from nas.journal import Journal, atomic_write
from nas.sampling import encode, warm_start_specs
from nas.schema import SpaceError
from nas.searcher import STUDY_NAME, ShareSearch
from nas.space import SearchSpace


@dataclasses.dataclass(frozen=True)
class Resources:
    gpus: float = 0  # GPUs of this machine Ray may use (0 = CPU only); ignored with `address`
    gpus_per_trial: float = 0  # fractions let several small trials share one GPU
    cpus_per_trial: float = 1
    address: str | None = None  # join a running Ray cluster ("auto" or host:port)
    max_concurrent: int | None = None
    max_failures: int = 1  # Ray retries a trial whose worker died (not one that failed in Python)


def run_search(space: SearchSpace, exp_dir: Path, res: Resources, resume: bool = False,
               log: Callable[[str], None] = print) -> dict:
    """Run (or resume) a search; return a summary dict. Results land in exp_dir."""
    exp_dir = Path(exp_dir).resolve()
    _check_data(space, log)
    _prepare_folder(space, exp_dir, resume)
    journal = Journal(exp_dir)
    storage = optuna.storages.RDBStorage(f"sqlite:///{exp_dir / 'optuna.db'}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    searcher = ShareSearch(space, journal, storage, _trial_config(space, exp_dir, res), log=log)
    _settle_interrupted(searcher.study, journal, space.metric_names, log)
    if not searcher.study.trials:
        _enqueue_warm_starts(searcher.study, space, log)
    remaining = space.trials - journal.trained()
    start, rows_before, trained_before, slots = time.perf_counter(), len(journal.rows), journal.trained(), 0
    if remaining > 0:
        log(f"[search] {space.name}: {remaining} of {space.trials} trainings to go; results in {exp_dir}")
        slots = _fit(searcher, space, exp_dir, res, remaining)
    else:
        log(f"[search] {space.name}: all {space.trials} trainings already done")
    wall = time.perf_counter() - start
    train_s = sum(r.get("train_time_s") or 0.0 for r in journal.rows[rows_before:])
    busy = train_s / (wall * slots) if slots and wall else None
    if busy is not None:
        log(f"[search] {wall:.1f} s for {journal.trained() - trained_before} trainings on {slots} trial slots; "
            f"training steps filled {busy:.0%} of slot time (the rest: Ray start-up and scheduling, "
            f"Optuna, FLOP counting, data loading, checkpoints)")
    return {"wall_time_s": wall, "trained": journal.trained(), "front_size": searcher.front_size(),
            "exp_dir": str(exp_dir), "train_time_s": train_s, "slots": slots, "slot_utilisation": busy}


def _fit(searcher: ShareSearch, space: SearchSpace, exp_dir: Path, res: Resources, remaining: int) -> int:
    """Run the Ray Tune experiment; return the number of trials that could run at once."""
    # Ray's default console output repeats what the search's own progress lines say.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    import ray
    from ray import tune

    from nas.trainable import run_trial

    if not ray.is_initialized():
        kwargs = {"address": res.address} if res.address else {
            "num_gpus": res.gpus, "num_cpus": max(os.cpu_count() or 1, int(res.cpus_per_trial))}
        ray.init(include_dashboard=False, logging_level="ERROR", log_to_driver=False, **kwargs)
    scheduler = None
    if space.early_stopping:
        scheduler = tune.schedulers.ASHAScheduler(
            metric="val_acc", mode="max", time_attr="epoch", max_t=space.recipe.epochs,
            grace_period=space.early_stopping.grace_epochs, reduction_factor=space.early_stopping.reduction_factor)
    runs = sorted((exp_dir / "ray").glob("run-*")) if (exp_dir / "ray").is_dir() else []
    tuner = tune.Tuner(
        tune.with_resources(run_trial, {"cpu": res.cpus_per_trial, "gpu": res.gpus_per_trial}),
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=remaining,
                                    max_concurrent_trials=res.max_concurrent, reuse_actors=True,
                                    trial_dirname_creator=lambda t: f"trial_{t.trial_id}"),
        run_config=tune.RunConfig(name=f"run-{len(runs) + 1}", storage_path=str(exp_dir / "ray"), verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=res.max_failures)))
    tuner.fit()
    return _slots(ray.cluster_resources(), res)


def _slots(cluster: dict, res: Resources) -> int:
    fits = [cluster.get("CPU", 1) // res.cpus_per_trial if res.cpus_per_trial else float("inf")]
    if res.gpus_per_trial:
        fits.append(cluster.get("GPU", 0) // res.gpus_per_trial)
    if res.max_concurrent:
        fits.append(res.max_concurrent)
    return max(1, int(min(fits)))


def _check_data(space: SearchSpace, log: Callable[[str], None]) -> None:
    """Load the data once before any trial: a missing dataset is one clear DataError here,
    not a failure in every trial; an image folder's decode cache is built once, not per worker."""
    from sharesnet.data import load_data

    data = load_data(**space.data.load_kwargs())
    if tuple(data.image_size) != space.data.input_size[1:]:
        raise SpaceError(f"{space.source}: data.image_size: the images are {data.image_size[0]}x"
                         f"{data.image_size[1]} but FLOPs would be counted at {space.data.input_size[1]}; "
                         f"set data.image_size: {data.image_size[0]}")
    log(f"[search] data: {data.name}, {len(data.train)} train / {len(data.val)} validation images "
        f"(split seed {data.split_seed}); the test split is not used by the search")


def _trial_config(space: SearchSpace, exp_dir: Path, res: Resources) -> Callable[[Candidate], dict]:
    def config(cand: Candidate) -> dict:
        return {"spec": cand.spec.to_dict(), "recipe": space.recipe.to_dict(), "data": space.data.load_kwargs(),
                "arch_id": cand.arch_id, "key": cand.key, "params": cand.params, "flops": cand.flops,
                "checkpoint_dir": str(exp_dir / "checkpoints" / cand.key),
                "report_epochs": space.early_stopping is not None,
                "threads": max(1, int(res.cpus_per_trial))}
    return config


def _prepare_folder(space: SearchSpace, exp_dir: Path, resume: bool) -> None:
    marker = exp_dir / "space.yaml"
    if marker.exists() and not resume:
        raise SpaceError(f"{exp_dir}: an experiment is already there; pass --resume to continue it, "
                         f"or choose another --out/--name")
    if resume and marker.exists():
        # Only the budget may change on resume (`--trials` to extend a search).
        old, new = (_without_trials(d) for d in (yaml.safe_load(marker.read_text()).get("resolved"),
                                                 _plain(space.resolved()["resolved"])))
        if old != new:
            raise SpaceError(f"{marker}: the search space changed since this experiment started; resume with "
                             f"the same space file, or start a new experiment")
        return
    exp_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(marker, yaml.safe_dump(_plain(space.resolved()), sort_keys=False))


def _without_trials(d: dict | None) -> dict:
    return {k: v for k, v in (d or {}).items() if k != "trials"}


def _plain(d):
    """YAML round trip, so tuples compare equal to the lists read back from disk."""
    return yaml.safe_load(yaml.safe_dump(d))


def _settle_interrupted(study: optuna.Study, journal: Journal, metric_names: list[str],
                        log: Callable[[str], None]) -> None:
    """Trials left RUNNING by a killed driver: complete them from the journal, else fail them."""
    by_number = {r["number"]: r for r in journal.rows if "number" in r}
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        row = by_number.get(t.number)
        if row and row["status"] == "ok":
            values = [float(row[m]) for m in metric_names]
            study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.COMPLETE, values)
        else:
            study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
    log(f"[search] resuming: {journal.trained()} trainings done, {len(journal.finished())} results to reuse") \
        if journal.rows else None


def _enqueue_warm_starts(study: optuna.Study, space: SearchSpace, log: Callable[[str], None]) -> None:
    for name, spec in warm_start_specs(space).items():
        params = encode(spec, space)
        if params is None:
            log(f"[search] warm start '{name}' cannot be expressed in this space (its depth, width or "
                f"sharing is not among the choices); skipped")
            continue
        study.enqueue_trial(params, user_attrs={"warm_start": name})
