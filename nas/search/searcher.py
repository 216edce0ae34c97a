"""ShareSearch: Ray Tune's OptunaSearch, taught to skip work that needs no training.

Before a candidate reaches Ray it is decoded, costed and checked:
- over a budget: told to Optuna as infeasible (constraints) and never trained;
- already evaluated, rejected or in training (same arch_id and recipe): by default
  (`sampler.repeats: resample`) closed as FAIL, which the samplers skip, and the sampler
  asked again; under `reuse`, told the earlier result (or made to wait for it).
Every outcome is written to the journal. Resume lives in the Optuna database and the
journal, so Ray's own searcher checkpoint is not used.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import optuna
from optuna.trial import TrialState
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from nas.report.pareto import pareto_front_indices
from nas.report.progress import count, duration, epoch_text
from nas.search import reeval
from nas.search.candidate import Candidate, evaluate_costs
from nas.search.journal import Journal
from nas.search.rows import FINAL, Row, Status, arch_row, report_fields
from nas.search.samplers import make_sampler
from nas.space.codec import decode
from nas.space.config import SearchSpace
from sharesnet.spec import SpecError
from sharesnet.train.checkpoint import saved_epoch

STUDY_NAME = "sharesnet-nas"
MAX_SKIPS = 200  # consecutive untrainable candidates before the space counts as exhausted


class ShareSearch(OptunaSearch):
    def __init__(self, space: SearchSpace, journal: Journal, storage: optuna.storages.BaseStorage,
                 trial_config: Callable[[Candidate], dict], log: Callable[[str], None] = print,
                 stopping: Callable[[], bool] = lambda: False):
        self.space, self.journal, self.log = space, journal, log
        self._trial_config = trial_config
        self._stopping = stopping  # a stop was requested: trials that end now were cut off
        self.slots = 1  # trials that run at once, for the ETA; the driver sets it
        self._cands: dict[str, Candidate] = {}  # Ray trial id -> candidate in training
        self._running: dict[str, str] = {}  # key -> Ray trial id
        self._waiting: dict[str, list[tuple[Any, Candidate]]] = {}  # key -> duplicates waiting on it
        self._done = journal.finished()
        self._rejected = {r["key"]: r["trial_id"] for r in journal.rows if r["status"] == Status.REJECTED}
        super().__init__(space=lambda _trial: None, metric=space.metric_names, mode=space.modes,
                         sampler=make_sampler(space.sampler, _trials_so_far(storage)),
                         study_name=STUDY_NAME, storage=storage)

    @property
    def study(self) -> optuna.Study:
        return self._ot_study

    # --- asking -----------------------------------------------------------------------
    def suggest(self, trial_id: str) -> dict | str | None:
        for _ in range(MAX_SKIPS):
            ot_trial = self._ot_study.ask()
            cand = self._candidate(ot_trial)
            if cand is None:
                continue
            earlier = self._earlier(cand)
            if earlier and self.space.sampler.repeats == "resample":
                self._resample(ot_trial, cand, earlier)
            elif cand.violations:
                self._rejected[cand.key] = f"optuna-{ot_trial.number}"
                self._tell(ot_trial, cand, Status.REJECTED, {"val_acc": 0.0, "train_acc": 0.0},
                           reason="; ".join(cand.violations))
            elif cand.key in self._done:
                done = self._done[cand.key]
                self._tell(ot_trial, cand, Status(done["status"]), done, reason=done["reason"], reused_from=done["trial_id"])
            elif cand.key in self._running:
                self._waiting.setdefault(cand.key, []).append((ot_trial, cand))
            else:
                self._ot_trials[trial_id], self._cands[trial_id] = ot_trial, cand
                self._running[cand.key] = trial_id
                return self._trial_config(cand)
        self.log(f"[search] stopping early: {MAX_SKIPS} candidates in a row were over budget or already "
                 "evaluated; the space looks exhausted (widen vary:, relax constraints:)")
        return Searcher.FINISHED

    def _earlier(self, cand: Candidate) -> str | None:
        """The trial that already has (or is training) this candidate's architecture, if any."""
        if cand.key in self._done:
            return self._done[cand.key]["trial_id"]
        return self._running.get(cand.key) or self._rejected.get(cand.key)

    def _resample(self, ot_trial, cand: Candidate, earlier: str) -> None:
        """A repeat closes as FAIL, which Optuna's samplers skip: it takes no NSGA-II population
        slot and no TPE history, so the sampler's next proposal is a new one. The journal keeps
        a `repeat` row, for the accounting of proposals."""
        self._ot_study.tell(ot_trial, state=TrialState.FAIL)
        self.journal.add(arch_row(cand, Status.REPEAT, trial_id=f"optuna-{ot_trial.number}", number=ot_trial.number,
                                  reused_from=earlier, train_time_s=0.0,
                                  warm_start=ot_trial.user_attrs.get("warm_start"),
                                  reason=f"repeats {earlier}; the sampler was asked for a new proposal"))

    def _candidate(self, ot_trial) -> Candidate | None:
        try:
            cand = evaluate_costs(decode(ot_trial, self.space), self.space)
        except SpecError as e:  # a width choice may break a shape rule: record, do not train
            self._ot_study.tell(ot_trial, state=TrialState.FAIL)
            self.journal.add(Row(trial_id=f"optuna-{ot_trial.number}", number=ot_trial.number,
                                 status=Status.INVALID, reason=str(e)))
            return None
        ot_trial.set_user_attr("arch_id", cand.arch_id)
        for name, value in zip(("params", "flops"), cand.constraint_values):
            ot_trial.set_constraint(name, value)  # > 0: over budget, so infeasible
        return cand

    # --- telling ----------------------------------------------------------------------
    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """A long trial's progress line; multi-objective Optuna takes no intermediate values."""
        cand = self._cands.get(trial_id)
        if cand is None or result.get("status") != "running":
            return
        self.log(f"[search] {cand.arch_id} {epoch_text(result, 'this trial ')} | {self._eta()}")

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id not in self._cands:  # not ours (or already told): nothing to record
            return
        if error and self._stopping():  # killed by the stop, not by a fault: left for --resume
            return
        ot_trial, cand = self._ot_trials.pop(trial_id), self._cands.pop(trial_id)
        self._running.pop(cand.key, None)
        status, reason = classify(result, error, self.space.trial_recipe.last_epoch)
        metrics = result or {}
        row = self._tell(ot_trial, cand, status, metrics, reason=reason, trial_id=trial_id)
        if status in FINAL:
            self._done[cand.key] = row
        for dup_trial, dup in self._waiting.pop(cand.key, []):
            self._tell(dup_trial, dup, status, metrics, reason=reason, reused_from=trial_id)

    def _tell(self, ot_trial, cand: Candidate, status: Status, metrics: dict, reason: str = "",
              trial_id: str | None = None, reused_from: str | None = None) -> Row:
        row = arch_row(cand, status, trial_id=trial_id or f"optuna-{ot_trial.number}", number=ot_trial.number,
                       **report_fields(metrics), reason=reason, reused_from=reused_from,
                       warm_start=ot_trial.user_attrs.get("warm_start"), continues=ot_trial.user_attrs.get("continues"))
        if reused_from:
            row["train_time_s"] = 0.0  # reuse costs no training
        values = {"val_acc": row["val_acc"], "train_acc": row.get("train_acc"), "params": cand.params,
                  "flops": cand.flops}
        try:
            if status in (Status.OK, Status.REJECTED):
                self._ot_study.tell(ot_trial, [float(values[m]) for m in self.space.metric_names])
            else:
                self._ot_study.tell(ot_trial, state=TrialState.PRUNED if status == Status.EARLY_STOPPED else TrialState.FAIL)
        except Exception as e:  # Optuna refuses e.g. NaN values: the journal still keeps the row
            row["reason"] = (row["reason"] + f"; optuna refused the result: {e}").strip("; ")
        self.journal.add(row)
        self._progress(row)
        return row

    def _progress(self, row: Row) -> None:
        j = self.journal
        front = self.front_size()
        scored = isinstance(row.get(self.space.score), float) and row["status"] == Status.OK
        detail = f"{self.space.score}={row[self.space.score]:.4f} " if scored else ""
        extra = f" ({row['reason']})" if row.get("reason") else ""
        self.log(f"[search] {j.trained()}/{self.space.trials} trained, {len(self._running)} running, "
                 f"{j.count(Status.FAILED, Status.ERROR)} failed, {j.count(Status.EARLY_STOPPED)} stopped early, "
                 f"{sum(1 for r in j.rows if r.get('reused_from') and r['status'] != Status.REPEAT)} reused, "
                 f"{j.count(Status.REPEAT)} repeats resampled, {j.count(Status.REJECTED)} rejected | "
                 f"front {front} | {row['arch_id']} {row['status']}{' (reused)' if row.get('reused_from') else ''} "
                 f"{detail}params={row['params']:,} flops={row['flops']:,}{extra} | {self._eta()}")

    def _eta(self) -> str:
        """The search's time to go: trainings left x mean training wall time / trial slots, and
        the most the re-evaluation after them can add."""
        times = [r["wall_time_s"] for r in self.journal.rows
                 if r["status"] == Status.OK and not r.get("reused_from") and r.get("wall_time_s")]
        left, extra = self.space.trials - self.journal.trained(), reeval.most_trainings(self.space)
        if not times:
            return f"{left} trainings left" + (f", then re-evaluation: up to {count(extra, 'training')}" if extra else "")
        each = sum(times) / len(times) / self.slots
        then = f", then re-evaluation: up to {count(extra, 'training')}, ~{duration(extra * each)}" if extra else ""
        return f"search ~{duration(left * each)} to go{then}"

    def record_cut_off(self) -> list[Row]:
        """After a stop: journal every training still in flight as `interrupted` and leave its
        Optuna trial RUNNING, so that --resume enqueues it again and it continues from its
        last checkpoint. Duplicates waiting on it are settled the same way on resume."""
        rows = []
        for trial_id, cand in list(self._cands.items()):
            ot_trial = self._ot_trials.pop(trial_id)
            del self._cands[trial_id]
            self._running.pop(cand.key, None)
            epoch = saved_epoch(Path(self._trial_config(cand)["checkpoint_dir"]) / "last.pt")
            kept = f"its checkpoint after epoch {epoch} is kept" if epoch else "no checkpoint was saved yet"
            row = arch_row(cand, Status.INTERRUPTED, trial_id=trial_id, number=ot_trial.number, checkpoint_epoch=epoch,
                           reason=f"cut off by the stop; {kept}; --resume trains it to the end",
                           warm_start=ot_trial.user_attrs.get("warm_start"))
            self.journal.add(row)
            rows.append(row)
        self._waiting.clear()
        return rows

    def front_size(self) -> int:
        rows = self.journal.candidates()
        pts = [[r[m] for m in self.space.metric_names] for r in rows]
        return len(pareto_front_indices(pts, self.space.modes)) if pts else 0

    # Resume is the Optuna database plus the journal; Ray may not pickle this searcher.
    def save(self, checkpoint_path: str):
        raise NotImplementedError

    def restore(self, checkpoint_path: str):
        raise NotImplementedError

    def __reduce__(self):
        """Ray Tune pickles its whole configuration, searcher included, for `Tuner.restore`, which
        this project never uses. Optuna 5.1's NSGA-II sampler holds a thread lock, which cannot be
        pickled, so the pickled copy is a stand-in that says so."""
        return (_not_restorable, ())


def _not_restorable() -> None:
    """What a pickled ShareSearch becomes: nothing (resume with search.py --resume)."""
    return None


def _trials_so_far(storage: optuna.storages.BaseStorage) -> int:
    try:
        return len(storage.get_all_trials(storage.get_study_id_from_name(STUDY_NAME), deepcopy=False))
    except KeyError:  # a new study
        return 0


def classify(result: dict | None, error: bool, epochs: int) -> tuple[Status, str]:
    """(status, reason) of a finished Ray trial."""
    result = result or {}
    if result.get("status") == "failed":  # the trial's own report (nas/run/trainable.py)
        return Status.FAILED, result.get("reason", "")
    if error:
        return Status.ERROR, "Ray reported a trial error (worker crashed, killed or lost); see the Ray logs under ray/"
    if result.get("status") == "ok":
        return Status.OK, ""
    return Status.EARLY_STOPPED, f"stopped by the scheduler after epoch {result.get('epoch')} of {epochs}"
