"""Trainings cached on disk by what decides their result, shared between processes.

The benches (inheritance, fidelity) train many (architecture, recipe, data) triples in this
process with the plain trainer. Each training keeps its checkpoint while it runs and, once
done, one JSON result named by a hash of its recipe, data, thread count and origin, so a
killed run goes on where it stopped and a rerun with other settings never reuses a stale
result. Processes sharing one folder split the work through claim files.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Callable

from sharesnet.data import DataBundle
from sharesnet.files import atomic_write
from sharesnet.spec import ArchSpec
from sharesnet.train import Recipe, train


def run_cached(spec: ArchSpec, recipe: Recipe, data: DataBundle, folder: Path, device: str | None,
               log: Callable[[str], None], init: Callable[[], dict] | None = None, origin: dict | None = None,
               wait: bool = True) -> dict | None:
    """Train once: the cached result if there is one, else train (resuming a checkpoint) and cache.
    `init()`: the first weights, when training. A training another process holds is waited for,
    or with wait=False, left (None) for later."""
    done = cached_path(folder, spec, recipe, data, origin)
    while not done.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        with claimed(done.with_suffix(".claim")) as mine:
            if not mine:
                if not wait:
                    return None
                time.sleep(5)
                continue
            log(f"[bench] {folder.name}: {spec.arch_id} ({spec.shape_text()}, {spec.sharing_summary()}) seed {recipe.seed}")
            result = train(spec, recipe, data, checkpoint_dir=done.with_suffix(""), device=device,
                           init_state=init() if init else None, log=lambda m: log(f"    {m}"))
            atomic_write(done, json.dumps({
                "arch_id": spec.arch_id, "val_acc": result.val_acc_last, "val_acc_best": result.val_acc_best,
                "images": result.images_trained, "epochs": result.epochs_run, "wall_time_s": result.wall_time_s,
                "seed": recipe.seed, "threads": _threads(), "precision": result.precision, "device": result.device,
                "val_history": [h["val_acc"] for h in result.history],
                "train_history": [h["train_acc"] for h in result.history],
                "spec": spec.to_dict(),
                "recipe": recipe.to_dict(), "data": data.info(), "origin": origin}, indent=1))
    return json.loads(done.read_text())


def run_all(jobs: list[Callable[..., dict | None]]) -> list[dict]:
    """Every job (a callable taking `wait`): first those no other process is training, then
    wait for the rest, so processes sharing one folder split the work between them."""
    results = [job(wait=False) for job in jobs]
    return [r if r is not None else job(wait=True) for r, job in zip(results, jobs)]


def cached_path(folder: Path, spec: ArchSpec, recipe: Recipe, data: DataBundle, origin: dict | None = None) -> Path:
    body = json.dumps({"recipe": recipe.to_dict(), "data": data.info(), "origin": origin, "threads": _threads()},
                      sort_keys=True)
    return folder / f"{spec.arch_id}-{hashlib.sha1(body.encode()).hexdigest()[:8]}.json"


class claimed:
    """`with claimed(path) as mine:` holds `path` for this process while inside, when `mine`.

    O_EXCL creation, so two processes never both hold it; a claim whose process is gone (a
    killed run's leftover) is taken over."""

    def __init__(self, path: Path):
        self.path, self.mine = path, False

    def __enter__(self) -> bool:
        self.mine = _claim(self.path)
        return self.mine

    def __exit__(self, *exc) -> None:
        if self.mine:
            self.path.unlink(missing_ok=True)


def _claim(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            os.kill(int(path.read_text() or 0), 0)
            return False  # its process is alive
        except (ProcessLookupError, ValueError):
            path.unlink(missing_ok=True)
            return _claim(path)
        except FileNotFoundError:
            return _claim(path)
    with os.fdopen(fd, "w") as f:
        f.write(str(os.getpid()))
    return True


def _threads() -> int:
    """Torch's CPU threads: they change float summation order, so they are part of a result's identity."""
    import torch

    return torch.get_num_threads()
