"""run_search: the Ray Tune + Optuna driver behind scripts/search.py.

Experiment folder layout:
  space.yaml            the space as given, plus every resolved default
  optuna.db             the Optuna study (open it with `optuna-dashboard sqlite:///optuna.db`)
  trials.jsonl, trials.csv   one row per candidate: trained, reused, rejected, failed
  checkpoints/<key>/    last.pt of each training, saved after every epoch whose save is cheap (resume mid-trial)
  ray/run-N/            Ray Tune's own results, one folder per (re)start
  parent/               with `inherit:`, the parent every candidate fine-tunes from (last.pt, result.json)
  ray/reeval-N/         with `reevaluate:`, the extra-seed trainings of the best candidates (journal: `reeval` rows)
  reeval.json           the trainings each re-evaluation round planned, so a resume finishes them
  pareto.*              the Pareto export, written at the end
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Callable

import optuna
import yaml
from ray import tune

from nas.report.progress import epoch_text
from nas.run.cluster import connect
from nas.run.inheritance import largest_parent, parent_checkpoint
from nas.run.parent import train_parent
from nas.run.resources import Resources
from nas.run.resources import slots as count_slots
from nas.run.signals import StopRequest
from nas.search import reeval
from nas.search.candidate import Candidate, costs, recipe_hash, trial_key
from nas.search.journal import Journal
from nas.search.rows import Status
from nas.search.searcher import STUDY_NAME, ShareSearch, classify
from nas.space.codec import encode, missing_choice, warm_start_specs
from nas.space.config import RESOLVED_LATER, SearchSpace
from nas.space.datacheck import check_data
from nas.space.problems import SpaceError
from sharesnet.files import atomic_write
from sharesnet.spec import ArchSpec
from sharesnet.train.checkpoint import saved_epoch

__all__ = ["Resources", "run_search", "STUDY_NAME"]
# Without ASHA a trial reports its progress (epoch, val_acc, images/s) at most this often:
# a long trial shows it is alive, tiny trials are not slowed by round trips.
PROGRESS_EVERY_S = 15.0


def run_search(space: SearchSpace, exp_dir: Path, res: Resources, resume: bool = False,
               log: Callable[[str], None] = print, stop: StopRequest | None = None) -> dict:
    """Run (or resume) a search; return a summary dict. Results land in exp_dir.

    `stop`: a StopRequest whose signal ends the search cleanly; summary["interrupted"] then
    holds the signal number and summary["cut_off"] the trainings left for --resume."""
    exp_dir = Path(exp_dir).resolve()
    if not resume:
        warm_start_specs(space)  # a missing or foreign proposals folder fails here, before the folder exists
    space = check_data(space, log)  # loads the data once; resolves the image size FLOPs are counted at
    nodes = connect(res, log, exp_dir)  # an unmeetable request fails here, before the folder exists
    space = _prepare_folder(space, exp_dir, resume, log)
    journal = Journal(exp_dir, tags={"inherited": True} if space.inherit else None)
    storage = optuna.storages.RDBStorage(f"sqlite:///{exp_dir / 'optuna.db'}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    stopping = (lambda: stop.requested) if stop else (lambda: False)
    searcher = ShareSearch(space, journal, storage, _trial_config(space, exp_dir, res), log=log, stopping=stopping)
    searcher.slots = count_slots(nodes, res)
    _settle_interrupted(searcher.study, journal, space, log)
    if not searcher.study.trials:
        _enqueue_warm_starts(searcher.study, space, log, journal)
    remaining = space.trials - journal.trained()
    start, rows_before, trained_before, slots = time.perf_counter(), len(journal.rows), journal.trained(), 0
    parent_s = _train_parent(space, exp_dir, res, log, stop) if space.inherit and remaining > 0 else 0.0
    if remaining > 0 and not stopping() and parent_s is not None:
        log(f"[search] {space.name}: {remaining} of {space.trials} trainings to go; results in {exp_dir}")
        _fit(searcher, space, exp_dir, res, remaining, stop)
        slots = searcher.slots
    elif remaining <= 0:
        log(f"[search] {space.name}: all {space.trials} trainings already done")
    cut_off = searcher.record_cut_off() if stopping() else []
    rows_reeval = len(journal.rows)
    if space.reevaluate and not stopping() and parent_s is not None:
        cut_off += _reevaluate(space, exp_dir, res, journal, stop, log)
        slots = slots or searcher.slots
    wall = time.perf_counter() - start
    train_s = sum(r.get("train_time_s") or 0.0 for r in journal.rows[rows_before:]) + (parent_s or 0.0)
    busy = train_s / (wall * slots) if slots and wall else None
    if busy is not None and not stopping():
        extra = sum(r["status"] == reeval.STATUS for r in journal.rows[rows_reeval:])
        more = f" and {extra} re-evaluation(s)" if extra else ""
        log(f"[search] {wall:.1f} s for {journal.trained() - trained_before} trainings{more} on {slots} trial slots; "
            f"training steps filled {busy:.0%} of slot time (the rest: Ray start-up and scheduling, "
            f"Optuna, FLOP counting, data loading, checkpoints)")
    return {"wall_time_s": wall, "trained": journal.trained(), "target": space.trials,
            "front_size": searcher.front_size(), "exp_dir": str(exp_dir), "train_time_s": train_s,
            "slots": slots, "slot_utilisation": busy, "interrupted": stop.signum if stop else None,
            "cut_off": cut_off, "reevaluated": sum(r["status"] == reeval.STATUS for r in journal.rows[rows_reeval:])}


def _fit(searcher: ShareSearch, space: SearchSpace, exp_dir: Path, res: Resources, remaining: int,
         stop: StopRequest | None) -> None:
    """Run the Ray Tune experiment until it is done or a stop is requested."""
    scheduler = None
    if space.early_stopping:
        scheduler = tune.schedulers.ASHAScheduler(
            metric=space.score, mode="max", time_attr="epoch", max_t=space.trial_recipe.last_epoch,
            grace_period=space.early_stopping.grace_epochs, reduction_factor=space.early_stopping.reduction_factor)
    tuner = tune.Tuner(
        _trainable(res),
        # Capped at the slots counted at the start: without a cap Ray Tune starts one trial at a
        # time under a custom searcher, and short trials ended before every slot was filled (4
        # slots of --cpus-per-trial 0.5 on 2 cores ran 2 trials); the cap lets every slot start.
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=remaining,
                                    max_concurrent_trials=res.max_concurrent or searcher.slots, reuse_actors=True,
                                    trial_dirname_creator=_dirname),
        run_config=_run_config("run", exp_dir, res, stop))
    tuner.fit()


class _StopWhenAsked(tune.Stopper):
    """Ends the whole experiment once a stop is requested; trials themselves never stop early here."""

    def __init__(self, stop: StopRequest | None):
        self._stop = stop

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        return self._stop is not None and self._stop.requested

    def __reduce__(self):  # Tune pickles its run config; a restored copy has no signal to watch
        return (_StopWhenAsked, (None,))


def _run_config(prefix: str, exp_dir: Path, res: Resources, stop: StopRequest | None, callbacks=()):
    """Ray Tune's run config: a new `ray/<prefix>-N/` folder per (re)start, stoppable by `stop`."""
    # Ray's default console output repeats what the search's own progress lines say.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # Ray Tune's SIGINT handler would kill the trials without telling the searcher: the
    # driver's StopRequest handles Ctrl-C instead, through the Stopper below.
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    runs = sorted((exp_dir / "ray").glob(f"{prefix}-*")) if (exp_dir / "ray").is_dir() else []
    return tune.RunConfig(name=f"{prefix}-{len(runs) + 1}", storage_path=str(exp_dir / "ray"), verbose=0,
                          stop=_StopWhenAsked(stop), callbacks=list(callbacks),
                          failure_config=tune.FailureConfig(max_failures=res.max_failures))


def _trainable(res: Resources, nested: str | None = None):
    """run_trial with the resources of one trial; `nested`: its config sits under that key
    (a grid of whole configs, as the re-evaluation runs)."""
    from nas.run.trainable import run_nested, run_trial

    fn = run_nested if nested else run_trial
    return tune.with_resources(fn, {"cpu": res.cpus_per_trial, "gpu": res.gpus_per_trial})


def _dirname(trial) -> str:
    return f"trial_{trial.trial_id}"


def _reevaluate(space: SearchSpace, exp_dir: Path, res: Resources, journal: Journal, stop: StopRequest | None,
                log: Callable[[str], None]) -> list[dict]:
    """Train the best candidates and the baselines with more seeds (nas/search/reeval.py), in rounds,
    as Ray Tune runs of run_trial on the trials' resources. Returns what a stop cut off.

    Each round's trainings are planned once, in reeval.json: a resumed search finishes the
    planned ones (not whatever a changed ranking would pick now), and stops at `rounds`."""
    cfg, epochs = space.reevaluate, space.trial_recipe.last_epoch
    plan_file = exp_dir / "reeval.json"
    planned = json.loads(plan_file.read_text())["rounds"] if plan_file.is_file() else []
    for round_no in range(1, cfg.rounds + 1):
        tried = {(r["arch_id"], r["seed"]) for r in journal.rows if r["status"] == reeval.STATUS}
        if round_no > len(planned):
            jobs = reeval.pending(reeval.choose(journal.rows, space), journal.rows, space)
            if not jobs:
                break
            planned.append([{"cand": _cand_fields(c), "seed": s} for c, s in jobs])
            atomic_write(plan_file, json.dumps({"rounds": planned}, indent=1))
        jobs = [(j["cand"], j["seed"]) for j in planned[round_no - 1] if (j["cand"]["arch_id"], j["seed"]) not in tried]
        if not jobs:
            continue
        log(f"[search] re-evaluation, round {round_no} of at most {cfg.rounds}: {len(jobs)} training(s), so that the "
            f"{cfg.top} best candidates and the baselines have {cfg.seeds} seeds each; the export states the seed noise")
        configs = [_reeval_config(space, exp_dir, res, cand, seed) for cand, seed in jobs]
        recorder = _ReevalRecorder(journal, log, len(configs), epochs, space.score)
        tuner = tune.Tuner(_trainable(res, "job"), param_space={"job": tune.grid_search(configs)},
                           tune_config=tune.TuneConfig(num_samples=1, max_concurrent_trials=res.max_concurrent,
                                                       reuse_actors=True, trial_dirname_creator=_dirname),
                           run_config=_run_config("reeval", exp_dir, res, stop, [recorder]))
        tuner.fit()
        if stop is not None and stop.requested:
            done = {r["key"] for r in journal.rows if r["status"] == reeval.STATUS}
            return [{"arch_id": f"{c['arch_id']} seed {c['reeval']['seed']} (re-evaluation)",
                     "checkpoint_epoch": saved_epoch(Path(c["checkpoint_dir"]) / "last.pt")}
                    for c in configs if c["key"] not in done]
    return []


def _cand_fields(cand: dict) -> dict:
    return {k: cand[k] for k in ("arch_id", "trial_id", "params", "flops", "sharing", "spec", "score_seeds")}


def _reeval_config(space: SearchSpace, exp_dir: Path, res: Resources, cand: dict, seed: int) -> dict:
    spec = ArchSpec.from_dict(cand["spec"])
    key = f"{trial_key(spec, space)}-s{seed}"
    recipe = dataclasses.replace(space.trial_recipe, seed=seed)
    return _config(spec, recipe, space, exp_dir / "checkpoints" / key, res) | {
        "arch_id": cand["arch_id"], "key": key, "params": cand["params"], "flops": cand["flops"],
        "reeval": {"seed": seed, "cand": cand}}


class _ReevalRecorder(tune.Callback):
    """Journals each re-evaluation as it ends, with a progress line; a stop's victims are left for --resume."""

    def __init__(self, journal: Journal | None, log: Callable[[str], None] | None, total: int, epochs: int,
                 score: str = "val_acc"):
        self.journal, self.log, self.total, self.epochs, self.done = journal, log, total, epochs, 0
        self.score = score

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        if self.log and result.get("status") == "running":
            self.log(f"[search] re-evaluation {trial.config['job']['arch_id']} seed "
                     f"{trial.config['job']['reeval']['seed']}: {epoch_text(result, 'this trial ')}")

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self._record(trial, error=False)

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self._record(trial, error=True)

    def _record(self, trial, error: bool) -> None:
        if self.journal is None:
            return
        job, result = trial.config["job"], trial.last_result or {}
        if error and not result.get("status"):
            return  # killed by a stop (or lost): its checkpoint stays for --resume
        status, reason = classify(result, error, self.epochs)
        cand, seed = job["reeval"]["cand"], job["reeval"]["seed"]
        self.journal.add(reeval.row(cand, seed, job["key"], result, status, reason))
        self.done += 1
        if self.log:
            got = f"{self.score} {result[self.score]:.4f}" if status == Status.OK else f"{status} ({reason})"
            # a plan written before train_acc could be the score names its list val_acc_seeds
            earlier = ", ".join(f"{v:.4f}" for v in cand.get("score_seeds", cand.get("val_acc_seeds", [])))
            self.log(f"[search] re-evaluation {self.done}/{self.total}: {cand['arch_id']} seed {seed}: {got} "
                     f"(earlier seeds: {earlier})")

    def __reduce__(self):  # Tune pickles its run config; a restored copy records nothing
        return (_ReevalRecorder, (None, None, self.total, self.epochs, self.score))


def _train_parent(space: SearchSpace, exp_dir: Path, res: Resources, log: Callable[[str], None],
                  stop: StopRequest | None) -> float | None:
    """With `inherit:`, the parent first, where trials run (see nas/run/parent.py)."""
    spec = largest_parent(space)
    params, flops = costs(spec, space.data.input_size)
    config = _config(spec, space.recipe, space, parent_checkpoint(exp_dir).parent, res) | {
        "arch_id": spec.arch_id, "params": params, "flops": flops}

    def run_once(callback: tune.Callback) -> dict:
        """One trial of run_trial with the trials' resources; its final report."""
        tuner = tune.Tuner(_trainable(res), param_space=config,
                           tune_config=tune.TuneConfig(num_samples=1, trial_dirname_creator=_dirname),
                           run_config=_run_config("parent", exp_dir, res, stop, [callback]))
        return tuner.fit()[0].metrics or {}

    return train_parent(space, spec, exp_dir, run_once, log, stopping=lambda: stop is not None and stop.requested)


def _trial_config(space: SearchSpace, exp_dir: Path, res: Resources) -> Callable[[Candidate], dict]:
    # With inheritance a candidate fine-tunes from the parent: its own, shorter recipe.
    inherit = {"inherit_from": str(parent_checkpoint(exp_dir))} if space.inherit else {}

    def config(cand: Candidate) -> dict:
        return _config(cand.spec, space.trial_recipe, space, exp_dir / "checkpoints" / cand.key, res) | {
            "arch_id": cand.arch_id, "key": cand.key, "params": cand.params, "flops": cand.flops, **inherit}
    return config


def _config(spec, recipe, space: SearchSpace, checkpoint_dir: Path, res: Resources) -> dict:
    """What run_trial needs to train one spec with one recipe."""
    return {"spec": spec.to_dict(), "recipe": recipe.to_dict(), "data": space.data.load_kwargs(),
            "checkpoint_dir": str(checkpoint_dir), "report_epochs": space.early_stopping is not None,
            "threads": res.threads, "device": res.device, "progress_every_s": PROGRESS_EVERY_S}


def _prepare_folder(space: SearchSpace, exp_dir: Path, resume: bool, log: Callable[[str], None]) -> SearchSpace:
    """Create the folder, or check that a resumed one holds this space; return the space to run."""
    marker = exp_dir / "space.yaml"
    if marker.exists() and not resume:
        raise SpaceError(f"{exp_dir}: an experiment is already there; pass --resume to continue it, "
                         f"or choose another --out/--name")
    if resume and marker.exists():
        old = yaml.safe_load(marker.read_text()).get("resolved") or {}
        space = _as_started(space, old, log)
        # Only the budget may change on resume (`--trials` to extend a search).
        new = {k: v for k, v in _plain(space.resolved()["resolved"]).items() if k in old or k not in RESOLVED_LATER}
        if _without_trials(old) != _without_trials(new):
            raise SpaceError(f"{marker}: the search space changed since this experiment started; resume with "
                             f"the same space file, or start a new experiment")
        return space
    exp_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(marker, yaml.safe_dump(_plain(space.resolved()), sort_keys=False))
    return space


def _as_started(space: SearchSpace, old: dict, log: Callable[[str], None]) -> SearchSpace:
    """An experiment started before sampler.encoding and sampler.repeats existed goes on as it
    began (conditional encoding, repeats reused), so its Optuna study stays one encoding."""
    if space.reevaluate and "reevaluate" not in old:
        log("[search] this experiment began before `reevaluate:` existed; it goes on without re-evaluation, "
            "as it started (one seed per candidate)")
        space = dataclasses.replace(space, reevaluate=None)
    legacy = {"encoding": "conditional", "repeats": "reuse"}
    missing = {k: v for k, v in legacy.items() if k not in (old.get("sampler") or {})}
    if not missing:
        return space
    log(f"[search] this experiment began before sampler.{' and sampler.'.join(missing)} existed; it goes on "
        f"with {', '.join(f'{k}: {v}' for k, v in missing.items())}, as it started")
    old.setdefault("sampler", {}).update(missing)
    return dataclasses.replace(space, sampler=dataclasses.replace(space.sampler, **missing))


def _without_trials(d: dict | None) -> dict:
    return {k: v for k, v in (d or {}).items() if k != "trials"}


def _plain(d):
    """YAML round trip, so tuples compare equal to the lists read back from disk."""
    return yaml.safe_load(yaml.safe_dump(d))


def _settle_interrupted(study: optuna.Study, journal: Journal, space: SearchSpace,
                        log: Callable[[str], None]) -> None:
    """Trials left RUNNING by a stopped or killed driver.

    One whose result reached the journal is told to Optuna from it. Every other one was cut
    off: it is closed as FAIL and enqueued again with the same parameters (and warm-start
    tag), so the same architecture trains to the end, from its last checkpoint."""
    settled = {r["number"]: r for r in journal.rows if "number" in r and r["status"] != Status.INTERRUPTED}
    continued = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        row = settled.get(t.number)
        if row and row["status"] in (Status.OK, Status.REJECTED) and all(row.get(m) is not None for m in space.metric_names):
            study.tell(t.number, [float(row[m]) for m in space.metric_names])
            continue
        if row:
            study.tell(t.number, state=optuna.trial.TrialState.PRUNED if row["status"] == Status.EARLY_STOPPED
                       else optuna.trial.TrialState.FAIL)
            continue
        # Cut off: the journal's `interrupted` row and the new trial's `continues` tell the story.
        study.tell(t.number, state=optuna.trial.TrialState.FAIL)
        attrs = {k: v for k, v in t.user_attrs.items() if k == "warm_start"} | {"continues": t.number}
        study.enqueue_trial(dict(t.params), user_attrs=attrs)
        continued.append(_resume_point(journal.folder, space, t.user_attrs.get("arch_id"), t.number))
    if journal.rows or continued:
        more = f"; {len(continued)} cut-off training(s) continue first: {', '.join(continued)}" if continued else ""
        log(f"[search] resuming: {journal.trained()} trainings done, {len(journal.finished())} results to reuse{more}")


def _resume_point(exp_dir: Path, space: SearchSpace, arch_id: str | None, number: int) -> str:
    """`dbc4156c65cc from its checkpoint at epoch 10`, or `... from the start (no checkpoint was saved)`."""
    if arch_id is None:
        return f"trial {number} from its last checkpoint, if it saved one"
    epoch = saved_epoch(exp_dir / "checkpoints" / f"{arch_id}-{recipe_hash(space)}" / "last.pt")
    return f"{arch_id} from its checkpoint at epoch {epoch}" if epoch else \
        f"{arch_id} from the start (no checkpoint was saved)"


def _enqueue_warm_starts(study: optuna.Study, space: SearchSpace, log: Callable[[str], None],
                         journal: Journal) -> None:
    first: dict[str, str] = {}  # arch_id -> the warm start that enqueued it
    for name, spec in warm_start_specs(space).items():
        params = encode(spec, space)
        if params is None:
            why = f"the space cannot express it: {missing_choice(spec, space)}"
            log(f"[search] warm start '{name}' skipped: {why}")
            # Journalled, so the export says why it was not evaluated rather than "not evaluated (yet)".
            journal.add({"trial_id": f"warm-start-{name}", "arch_id": spec.arch_id, "status": Status.INVALID,
                         "warm_start": name, "reason": why})
            continue
        if spec.arch_id in first:  # a proposal may be the paper's rule: train it once, under the first tag
            log(f"[search] warm start '{name}' is the architecture of warm start '{first[spec.arch_id]}'; skipped")
            continue
        first[spec.arch_id] = name
        study.enqueue_trial(params, user_attrs={"warm_start": name})
