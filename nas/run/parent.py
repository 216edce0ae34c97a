"""The parent of an inheriting search: trained once, before any candidate, where trials run.

It is a one-trial Ray Tune run of the same run_trial with the same resources (the driver
builds it), not a training inside the driver: so it trains on the GPU or cluster node a
trial would get, and writes its checkpoint into the experiment folder every node sees.
`<experiment>/parent/` holds last.pt and, once it finished, result.json; --resume reuses a
finished parent and continues a cut-off one from its checkpoint.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from ray import tune

from nas.report.progress import duration, epoch_text
from nas.run.inheritance import parent_checkpoint
from nas.search.rows import REPORT_KEYS
from nas.space.config import SearchSpace
from nas.space.problems import SpaceError
from sharesnet.files import atomic_write
from sharesnet.spec import ArchSpec
from sharesnet.train.checkpoint import saved_epoch

RESULT = "result.json"


def train_parent(space: SearchSpace, spec: ArchSpec, exp_dir: Path, run_once: Callable[[tune.Callback], dict],
                 log: Callable[[str], None], stopping: Callable[[], bool]) -> float | None:
    """Train, resume or reuse the parent; its training seconds in this run (0 when reused), or
    None when a stop cut it off. `run_once(callback)` runs it and returns its final report."""
    what = f"[search] parent {spec.arch_id} (largest plain net of the space)"
    ckpt, done = parent_checkpoint(exp_dir), parent_checkpoint(exp_dir).parent / RESULT
    if done.is_file():
        log(f"{what}: trained already, val_acc {json.loads(done.read_text())['val_acc']:.4f}; reusing {ckpt}")
        return 0.0
    epoch = saved_epoch(ckpt)
    how = f"continuing it from its checkpoint at epoch {epoch} of {space.recipe.epochs}" if epoch else \
        f"training it once, {space.recipe.epochs} epochs of the trial recipe"
    log(f"{what}: {how}; then every candidate fine-tunes from it for {space.inherit.finetune_epochs} epoch(s)")
    report = run_once(_ParentProgress(what, log))
    if report.get("status") == "ok":  # recorded even when a stop came just after it
        result = {"arch_id": spec.arch_id, **{k: report.get(k) for k in REPORT_KEYS}, "spec": spec.to_dict()}
        atomic_write(done, json.dumps(result, indent=1))
        log(f"{what}: done, val_acc {report['val_acc']:.4f} after {report['epoch']} epochs, "
            f"{duration(report['wall_time_s'])}")
        return None if stopping() else float(report.get("train_time_s") or 0.0)
    if stopping():
        epoch = saved_epoch(ckpt)
        log(f"{what}: cut off ({f'checkpoint at epoch {epoch}' if epoch else 'no checkpoint yet'}); "
            f"--resume continues it")
        return None
    reason = report.get("reason") or f"Ray reported a trial error; see {Path(exp_dir) / 'ray'}"
    raise SpaceError(f"{space.source}: inherit: the parent {spec.arch_id} did not train ({reason}); "
                     f"no candidate can inherit from it: fix train:, or drop inherit:")


class _ParentProgress(tune.Callback):
    """The parent's progress lines: epoch, val_acc, speed and time to go."""

    def __init__(self, what: str, log: Callable[[str], None] | None):
        self.what, self.log = what, log

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        if self.log and result.get("status") == "running":
            self.log(f"{self.what}: {epoch_text(result)}")

    def __reduce__(self):  # Tune pickles its run config; a restored copy has nowhere to log
        return (_ParentProgress, (self.what, None))
