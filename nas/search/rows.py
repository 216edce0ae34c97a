"""A journal row: its statuses, its fields, and the one place a candidate's row is built.

Rows are plain dicts on disk (one JSON line each, read back by --resume, the export and the
retraining), so `Row` is a TypedDict that names the fields rather than a class that would
need its own serialisation. `Status` is a StrEnum: a status read back from JSON compares
equal to its member.
"""
from __future__ import annotations

from enum import StrEnum
from typing import Any, TypedDict


class Status(StrEnum):
    OK = "ok"                        # trained to the end; a candidate
    FAILED = "failed"                # the training raised (out of memory, diverged): the reason is kept
    EARLY_STOPPED = "early_stopped"  # the scheduler (ASHA) stopped it
    ERROR = "error"                  # Ray lost the worker
    INTERRUPTED = "interrupted"      # cut off by a stop, not a training's end; --resume trains it to the end
    REPEAT = "repeat"                # the sampler proposed an architecture already tried; it was asked again
    INVALID = "invalid"              # the proposal breaks a shape rule, or a warm start the space cannot express
    REJECTED = "rejected"            # over a budget
    REEVAL = "reeval"                # an extra-seed training of a candidate (search/reeval.py); outside the budget


TRAINED = frozenset({Status.OK, Status.FAILED, Status.EARLY_STOPPED, Status.ERROR})  # used a training slot
FINAL = frozenset({Status.OK, Status.FAILED})  # worth reusing: early stops and crashes may go differently
# What a trial's final report (nas/run/trainable.py) carries into a row; "epoch" becomes the row's "epochs".
REPORT_KEYS = ("val_acc", "val_acc_best", "train_acc", "epoch", "wall_time_s", "train_time_s", "precision", "device",
               "node", "gpu_ids", "resumed_at_epoch", "images_trained")


class Row(TypedDict, total=False):
    trial_id: str
    number: int                  # the Optuna trial number
    key: str                     # arch_id + recipe hash: what de-duplication compares
    arch_id: str
    status: Status
    reason: str
    seed: int
    val_acc: float | None
    val_acc_best: float | None
    train_acc: float | None      # the last epoch's running accuracy on its training batches (docs/fidelity.md)
    params: int
    flops: int
    epochs: int | None
    wall_time_s: float | None
    train_time_s: float | None
    images_trained: int | None
    resumed_at_epoch: int | None
    checkpoint_epoch: int | None
    reused_from: str | None      # the trial whose result this one reuses (no training)
    warm_start: str | None       # plain, paper, or a proposal's name
    continues: int | None        # the cut-off trial number this one trains to the end
    reeval_of: str               # a re-evaluation: the candidate's trial_id
    outcome: Status              # a re-evaluation's own outcome (its status is REEVAL)
    precision: str | None
    device: str | None
    node: str | None
    gpu_ids: list | None
    sharing: str
    spec: dict[str, Any]
    time: float


def report_fields(report: dict[str, Any]) -> dict[str, Any]:
    """A trial report's REPORT_KEYS as row fields ("epoch" -> "epochs"; a journal row read back
    as a report keeps its "epochs")."""
    fields = {k: report.get(k) for k in REPORT_KEYS if k != "epoch"}
    return fields | {"epochs": report.get("epoch", report.get("epochs"))}


def arch_row(cand: Any, status: Status, **fields: Any) -> Row:
    """The row of one architecture (a `Candidate`): its identity and costs, then `fields`."""
    return Row(key=cand.key, arch_id=cand.arch_id, status=status, params=cand.params, flops=cand.flops,
               **fields, sharing=cand.spec.sharing_summary(), spec=cand.spec.to_dict())
