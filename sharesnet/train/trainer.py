"""train(): a plain function from (spec, recipe, data) to a TrainResult. Knows nothing of
any search framework; `on_epoch` is the one hook a driver needs (report, prune, stop)."""
from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any, Callable

import torch

from sharesnet.data import DataBundle, num_batches
from sharesnet.spec import ArchSpec
from sharesnet.train import checkpoint as ckpt_io
from sharesnet.train.engine import Engine, evaluate, make_engine, pick_device, train_epoch
from sharesnet.train.memory import release_freed_memory
from sharesnet.train.recipe import Recipe
from sharesnet.train.result import TrainResult

OnEpoch = Callable[[int, dict[str, Any]], "bool | None"]
TRAIN_ON = ("train", "train+val")


def train(spec: ArchSpec, recipe: Recipe, data: DataBundle, *, on_epoch: OnEpoch | None = None,
          checkpoint_dir: str | Path | None = None, device: str | torch.device | None = None,
          train_on: str = "train", evaluate_test: bool = False,
          log: Callable[[str], None] | None = None, max_checkpoint_share: float | None = None,
          init_state: dict[str, torch.Tensor] | None = None) -> TrainResult:
    """Train `spec` with `recipe` on `data`, resuming from checkpoint_dir/last.pt if present.

    train_on="train": select on val (search). "train+val": final retraining, val metrics None.
    max_checkpoint_share: None saves after every epoch. A fraction f saves after an epoch only
    when the previous save took at most f of the time since it (and always after the last
    epoch or a stop): every epoch for real datasets, every few epochs for tiny ones.
    init_state: the model's first weights (e.g. sharesnet.inherit.inherit_state) instead of its
    seeded init; a checkpoint to resume from wins over it, so a cut-off run continues as it was.
    A recipe with `stop_after` ends after that epoch, its lr as in the whole schedule.
    The freed memory goes back to the system at the end (sharesnet/train/memory.py), so a process
    that trains one net after another does not creep up by each net's peak.
    """
    try:
        return _train(spec, recipe, data, on_epoch=on_epoch, checkpoint_dir=checkpoint_dir, device=device,
                      train_on=train_on, evaluate_test=evaluate_test, log=log,
                      max_checkpoint_share=max_checkpoint_share, init_state=init_state)
    finally:
        release_freed_memory()  # after _train's frame, engine and activations included, is gone


def _train(spec: ArchSpec, recipe: Recipe, data: DataBundle, *, on_epoch: OnEpoch | None,
           checkpoint_dir: str | Path | None, device: str | torch.device | None, train_on: str,
           evaluate_test: bool, log: Callable[[str], None] | None, max_checkpoint_share: float | None,
           init_state: dict[str, torch.Tensor] | None) -> TrainResult:
    if train_on not in TRAIN_ON:
        raise ValueError(f"train_on: must be one of {TRAIN_ON}, got {train_on!r}")
    last = recipe.last_epoch
    t_start = time.perf_counter()
    log = log or (lambda _msg: None)
    dev = pick_device(device)
    data = data.to(dev)
    split = data.train.cat(data.val) if train_on == "train+val" else data.train
    val = data.val if (train_on == "train" and len(data.val)) else None
    mem0 = _memory_start(dev)
    eng = make_engine(spec, recipe, data, dev)
    spe = num_batches(len(split), recipe.batch_size, drop_last=True)
    meta = {"spec": spec.to_dict(), "recipe": recipe.to_dict(), "data": data.info(), "train_on": train_on}
    path = Path(checkpoint_dir) / ckpt_io.LAST if checkpoint_dir else None
    resuming = path is not None and path.is_file()
    history = _resume(eng, path, meta, recipe, log) if resuming else []
    if init_state is not None and not resuming:
        eng.model.load_state_dict(init_state)
    resumed_at = len(history)
    eval_bs = min(1024, 2 * recipe.batch_size)
    timing, stopped = {"train_time_s": 0.0, "images": 0, "train_phase_s": 0.0}, False
    saved_at, save_cost = time.perf_counter(), 0.0
    for epoch in range(resumed_at + 1, last + 1):
        m = _epoch(eng, split, val, recipe, data, epoch, spe, eval_bs, timing)
        history.append(m)
        log(_line(m, recipe))
        stopped = on_epoch is not None and bool(on_epoch(epoch, dict(m)))
        cheap = max_checkpoint_share is None or save_cost <= max_checkpoint_share * (time.perf_counter() - saved_at)
        if path and (cheap or stopped or epoch == last):
            t0 = time.perf_counter()
            ckpt_io.save_atomic(_payload(eng, meta, epoch, spe, history), path)
            saved_at = time.perf_counter()
            save_cost = saved_at - t0
        if stopped:
            break
    test_loss, test_acc = _test(eng, data, evaluate_test, eval_bs)
    vals = [h["val_acc"] for h in history if h["val_acc"] is not None]
    return TrainResult(
        val_acc_best=max(vals) if vals else None, val_acc_last=vals[-1] if vals else None,
        test_acc=test_acc, history=history, epochs_run=len(history),
        wall_time_s=time.perf_counter() - t_start, train_time_s=timing["train_time_s"],
        images_per_s=timing["images"] / timing["train_phase_s"] if timing["train_phase_s"] else None,
        peak_memory_bytes=_memory_peak(dev, mem0), stopped_early=stopped, seed=recipe.seed,
        spec=meta["spec"], recipe=meta["recipe"], data=meta["data"], train_on=train_on,
        device=str(dev), test_loss=test_loss, precision="bf16" if eng.bf16 else "fp32", resumed_at_epoch=resumed_at,
        images_trained=len(history) * spe * min(recipe.batch_size, len(split)))


def _epoch(eng: Engine, split, val, recipe: Recipe, data: DataBundle, epoch: int, spe: int,
           eval_bs: int, timing: dict[str, float]) -> dict[str, Any]:
    """Train one epoch and evaluate on val; returns its metrics and adds to `timing`."""
    t0 = time.perf_counter()
    loss, acc, lr = train_epoch(eng, split, recipe, data, epoch, spe)
    t1 = time.perf_counter()
    val_loss, val_acc = evaluate(eng, val, data, eval_bs) if val is not None else (None, None)
    t2 = time.perf_counter()
    n = spe * min(recipe.batch_size, len(split))  # images actually stepped on (drop_last)
    timing["train_time_s"] += t2 - t0
    timing["train_phase_s"] += t1 - t0
    timing["images"] += n
    return {"epoch": epoch, "train_loss": loss, "train_acc": acc, "val_loss": val_loss,
            "val_acc": val_acc, "lr": lr, "images_per_s": n / (t1 - t0), "epoch_time_s": t2 - t0}


def _test(eng: Engine, data: DataBundle, wanted: bool, batch_size: int) -> tuple[float | None, float | None]:
    if not wanted:
        return None, None
    if not len(data.test):
        raise ValueError(f"evaluate_test=True but dataset '{data.name}' has no test split")
    return evaluate(eng, data.test, data, batch_size)


def _payload(eng: Engine, meta: dict, epoch: int, spe: int, history: list) -> dict[str, Any]:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    return {"format": ckpt_io.FORMAT, **meta, "arch_id": ArchSpec.from_dict(meta["spec"]).arch_id,
            "seed": meta["recipe"]["seed"], "epoch": epoch, "model": eng.model.state_dict(),
            "optimizer": eng.optimizer.state_dict(),
            "scheduler": {"step": eng.step, "steps_per_epoch": spe},
            "rng": {"torch": torch.get_rng_state(), "cuda": cuda, "data": eng.generator.get_state(),
                    "data_device": eng.device.type},
            "history": [dict(h) for h in history]}


def _resume(eng: Engine, path: Path, meta: dict, recipe: Recipe, log) -> list[dict[str, Any]]:
    """Restore every piece of state from last.pt; return the history so far."""
    ck = ckpt_io.read(path, eng.device)
    ckpt_io.check_resumable(ck, meta, path)
    eng.model.load_state_dict(ck["model"])
    eng.optimizer.load_state_dict(ck["optimizer"])
    eng.step = ck["scheduler"]["step"]
    torch.set_rng_state(ck["rng"]["torch"].cpu())
    if ck["rng"]["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in ck["rng"]["cuda"]])
    if ck["rng"]["data_device"] == eng.device.type:
        eng.generator.set_state(ck["rng"]["data"].cpu())
    else:  # generator states do not cross device types: continue, reproducibly but not bit-exactly
        eng.generator.manual_seed(recipe.seed * 1_000_003 + ck["epoch"])
        log(f"resume: checkpoint written on {ck['rng']['data_device']}, now {eng.device.type}; "
            "data order re-seeded, so the run is not bit-identical to an uninterrupted one")
    log(f"resumed from {path} at epoch {ck['epoch']}")
    return list(ck["history"])


def _memory_start(dev: torch.device) -> int:
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _memory_peak(dev: torch.device, start: int) -> int:
    """CUDA: peak allocated. CPU: growth of the process's max RSS (0 if an earlier peak was higher)."""
    if dev.type == "cuda":
        return torch.cuda.max_memory_allocated(dev)
    return max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - start)


def _line(m: dict[str, Any], recipe: Recipe) -> str:
    """`epoch 3/10 train loss 1.234 acc 0.567 val loss ... acc ... lr ...`: every number named.
    A prefix says so: `epoch 3/4 (of 15)`."""
    val = f" val loss {m['val_loss']:.3f} acc {m['val_acc']:.3f}" if m["val_acc"] is not None else ""
    of = f" (of {recipe.epochs})" if recipe.stop_after is not None else ""
    return (f"epoch {m['epoch']}/{recipe.last_epoch}{of} train loss {m['train_loss']:.3f} acc {m['train_acc']:.3f}{val} "
            f"lr {m['lr']:.4f} {m['images_per_s']:.0f} img/s {m['epoch_time_s']:.1f}s")
