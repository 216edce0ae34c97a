"""The one adapter between Ray Tune and the plain training engine.

Reports every epoch (so ASHA can stop a trial), and never raises: a diverged,
out-of-memory or buggy trial reports status "failed" with its reason, and the search
goes on. Checkpoints live under the experiment, keyed by arch and recipe, so a trial
interrupted with the driver resumes from its last saved epoch. A trial trains on the
device the driver chose for it ("cuda": the GPU Ray assigned; "cpu"), never on whatever
happens to be visible. A config with `inherit_from` (a parent's last.pt) starts from the
parent's weights (nas/run/inheritance.py); a checkpoint of the trial's own still wins on resume.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import socket
import time
import traceback

import torch
from ray import tune

from nas.run.inheritance import initial_state
from sharesnet.data import load_data
from sharesnet.spec import ArchSpec
from sharesnet.train import DivergedError, Recipe, train

# Fault injection for tests and drills: "diverge:<arch_id>" trains that arch with a
# learning rate so large that it really diverges.
FAULT_ENV = "SHARESNET_NAS_FAULT"
# A trial saves after an epoch when the previous save cost at most this share of the time
# since it: every epoch on real data (epochs of seconds or minutes, saves of milliseconds),
# every few epochs for tiny nets whose epochs are as short as a save.
CHECKPOINT_SHARE = 0.05


def run_trial(config: dict) -> None:
    """Train one candidate and report it to Tune (train() hands its freed memory back, so a reused
    actor does not creep up by a net's peak with every trial)."""
    start = time.perf_counter()
    torch.set_num_threads(max(1, int(config.get("threads", 1))))
    spec = ArchSpec.from_dict(config["spec"])
    recipe = _inject_fault(Recipe.from_dict(config["recipe"]), spec.arch_id)
    # Where it runs, in every report: a failed trial's journal row says where it failed too.
    base = {"arch_id": spec.arch_id, "params": config["params"], "flops": config["flops"], "node": _node(),
            "device": config.get("device", "cpu"), "gpu_ids": _gpu_ids(), "inherited": bool(config.get("inherit_from"))}

    last = [time.perf_counter()]

    def on_epoch(epoch: int, m: dict) -> None:
        # Per-epoch reports feed ASHA, and show a long trial's progress; for tiny trials
        # whose epochs take a fraction of a second they would only cost round trips.
        # The last epoch is reported once, with the final status.
        due = time.perf_counter() - last[0] >= config.get("progress_every_s", float("inf"))
        if (config.get("report_epochs") or due) and epoch < recipe.last_epoch:
            last[0] = time.perf_counter()
            tune.report({**base, "status": "running", "epoch": epoch, "epochs": recipe.last_epoch,
                         "val_acc": m["val_acc"], "train_acc": m["train_acc"], "train_loss": m["train_loss"],
                         "images_per_s": m["images_per_s"], "epoch_time_s": m["epoch_time_s"]})

    try:
        device = _device(config.get("device", "cpu"))
        data = _load_data(tuple(sorted(config["data"].items())))
        init = initial_state(config.get("inherit_from"), spec)  # None: from scratch
        result = train(spec, recipe, data, on_epoch=on_epoch, checkpoint_dir=config.get("checkpoint_dir"),
                       device=device, max_checkpoint_share=CHECKPOINT_SHARE, init_state=init)
    except Exception as e:  # noqa: BLE001 - any failure is the trial's, not the search's
        traceback.print_exc()
        epoch = e.epoch if isinstance(e, DivergedError) else None
        tune.report({**base, "status": "failed", "reason": _reason(e), "epoch": epoch, "val_acc": 0.0, "train_acc": 0.0,
                     "wall_time_s": time.perf_counter() - start})
        return
    tune.report({**base, "status": "ok", "epoch": result.epochs_run, "val_acc": result.val_acc_last,
                 "val_acc_best": result.val_acc_best, "train_acc": result.history[-1]["train_acc"],
                 "train_time_s": result.train_time_s,
                 "precision": result.precision, "device": result.device,
                 "resumed_at_epoch": result.resumed_at_epoch, "images_trained": result.images_trained,
                 "wall_time_s": time.perf_counter() - start})


def run_nested(config: dict) -> None:
    """run_trial on config["job"]: a trial of a grid whose points are whole trial configs."""
    run_trial(config["job"])


def _device(wanted: str) -> str:
    """The device the driver asked for; a GPU trial without a usable GPU fails, never falls back."""
    if wanted == "cuda" and not torch.cuda.is_available():
        from ray import get_gpu_ids

        raise RuntimeError(f"Ray gave this trial GPU(s) {get_gpu_ids()} but torch sees no CUDA device "
                           f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}); not training on the CPU")
    return wanted


def _gpu_ids() -> list:
    """The GPUs Ray assigned to this trial (CUDA_VISIBLE_DEVICES is set to them): [] on CPU."""
    try:
        from ray import get_gpu_ids

        return [str(g) for g in get_gpu_ids()]
    except Exception:  # noqa: BLE001 - outside Ray
        return []


def _node() -> str:
    """Where the trial ran, for the journal: host name and Ray node id."""
    try:
        from ray import get_runtime_context

        return f"{socket.gethostname()}/{get_runtime_context().get_node_id()[:8]}"
    except Exception:  # noqa: BLE001 - outside Ray (tests calling run_trial directly)
        return socket.gethostname()


@functools.lru_cache(maxsize=2)
def _load_data(kwargs: tuple):
    """Reused actors keep the decoded dataset between trials."""
    return load_data(**dict(kwargs))


def _reason(e: Exception) -> str:
    if isinstance(e, DivergedError):
        return f"diverged: {e}"
    if isinstance(e, torch.OutOfMemoryError):
        return f"out of memory: {str(e).splitlines()[0]}"
    return f"{type(e).__name__}: {e}"


def _inject_fault(recipe: Recipe, arch_id: str) -> Recipe:
    if os.environ.get(FAULT_ENV, "") == f"diverge:{arch_id}":
        return dataclasses.replace(recipe, lr=1e8)
    return recipe
