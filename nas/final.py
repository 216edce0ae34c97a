"""Final retraining: train chosen architectures on train+val, report test accuracy.

The only code path that reads the test split. Each (architecture, seed) is a job with
its own folder: the trainer's per-epoch checkpoint (spec inside: the model rebuilds
from the file alone), metrics.csv and result.json. `--gpus N` runs jobs in parallel
as Ray tasks, one GPU each; on CPU they run one after another.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import statistics
from pathlib import Path
from typing import Any, Callable

import yaml

from nas.journal import atomic_write
from nas.schema import SpaceError
from nas.space import DataConfig, dataset_overrides
from sharesnet import build_model, checkpoint_bytes, count_flops, count_params
from sharesnet.registry import get_spec
from sharesnet.spec import ArchSpec
from sharesnet.train import Recipe


@dataclasses.dataclass(frozen=True)
class Job:
    name: str
    spec: ArchSpec
    data: DataConfig
    recipe: Recipe
    folder: Path

    @property
    def label(self) -> str:
        return f"{self.name} seed {self.recipe.seed}"


def from_pareto(path: str | Path, select: str) -> list[tuple[str, ArchSpec, DataConfig]]:
    """Front entries chosen by `all`, indices `0,2`, or arch_ids."""
    path = Path(path)
    if not path.is_file():
        raise SpaceError(f"{path}: no such pareto file; run scripts/export_pareto.py --experiment DIR first")
    front = (yaml.safe_load(path.read_text()) or {}).get("front") or []
    if select == "all":
        chosen = front
    else:
        chosen = []
        for token in select.split(","):
            token = token.strip()
            hits = [front[int(token)]] if token.isdigit() and int(token) < len(front) else \
                [e for e in front if e["arch_id"] == token]
            if not hits:
                raise SpaceError(f"{path}: --select {token!r} matches no front entry "
                                 f"(indices 0..{len(front) - 1}, or one of {[e['arch_id'] for e in front]})")
            chosen += hits
    return [(e["arch_id"], ArchSpec.from_dict(e["spec"], where=f"{path}: front {e['arch_id']}.spec"),
             DataConfig(**e["data"])) for e in chosen]


def from_preset(name: str, data: DataConfig) -> tuple[str, ArchSpec, DataConfig]:
    return name, get_spec(name, **dataset_overrides(data, {})), data


def make_jobs(archs: list[tuple[str, ArchSpec, DataConfig]], recipe: Recipe, seeds: int, out: Path) -> list[Job]:
    return [Job(name, spec, data, dataclasses.replace(recipe, seed=recipe.seed + k), out / name / f"seed-{recipe.seed + k}")
            for name, spec, data in archs for k in range(seeds)]


def run_job(job: Job, resume: bool, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train one job on train+val and evaluate it on test; reuse a finished result on resume."""
    from sharesnet.data import load_data
    from sharesnet.train import train

    done = job.folder / "result.json"
    if done.is_file() and resume:
        log(f"[final] {job.label}: already finished, reusing {done}")
        return json.loads(done.read_text())
    if (job.folder / "last.pt").exists() and not resume:
        raise SpaceError(f"{job.folder}: a checkpoint is already there; pass --resume to continue it, "
                         f"or choose another --out")
    job.folder.mkdir(parents=True, exist_ok=True)
    data = load_data(**job.data.load_kwargs())
    bar = _Progress(job.label, job.recipe.epochs, log)
    result = train(job.spec, job.recipe, data, checkpoint_dir=job.folder, train_on="train+val",
                   evaluate_test=True, log=bar)
    model = build_model(job.spec)
    row = {"name": job.name, "arch_id": job.spec.arch_id, "seed": job.recipe.seed,
           "test_acc": result.test_acc, "params": count_params(model),
           "flops": count_flops(model, job.data.input_size), "checkpoint_bytes": checkpoint_bytes(model),
           "epochs": result.epochs_run, "wall_time_s": result.wall_time_s, "images_per_s": result.images_per_s,
           "precision": result.precision, "device": result.device,
           "checkpoint": str(job.folder / "last.pt"), "spec": job.spec.to_dict(), "recipe": job.recipe.to_dict(),
           "data": dataclasses.asdict(job.data), "split_seed": job.data.split_seed}
    atomic_write(job.folder / "metrics.csv", _csv(result.history))
    atomic_write(done, json.dumps(row, indent=1))
    log(f"[final] {job.label}: test accuracy {result.test_acc:.4f} ({result.epochs_run} epochs, "
        f"{result.wall_time_s:.0f} s)")
    return row


def run_all(jobs: list[Job], gpus: int, resume: bool, log: Callable[[str], None] = print) -> list[dict]:
    if gpus <= 0:
        return [run_job(j, resume, log) for j in jobs]
    import ray

    if not ray.is_initialized():
        ray.init(num_gpus=gpus, include_dashboard=False, logging_level="ERROR")
    task = ray.remote(num_gpus=1)(run_job)
    return ray.get([task.remote(j, resume) for j in jobs])


def summarise(rows: list[dict], out: Path) -> str:
    """final_results.csv (one row per job) and a Markdown table (mean +- std over seeds)."""
    atomic_write(out / "final_results.csv", _csv([{k: v for k, v in r.items() if k not in ("spec", "recipe", "data")}
                                                 for r in rows]))
    lines = ["| architecture | arch_id | params | FLOPs (fvcore, 1 MAC = 1 flop) | checkpoint (MB) | "
             "test accuracy (mean ± std) | seeds | wall time (s) |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name in dict.fromkeys(r["name"] for r in rows):
        rs = [r for r in rows if r["name"] == name]
        accs = [r["test_acc"] for r in rs]
        std = statistics.stdev(accs) if len(accs) > 1 else 0.0
        lines.append(f"| {name} | `{rs[0]['arch_id']}` | {rs[0]['params']:,} | {rs[0]['flops']:,} | "
                     f"{rs[0]['checkpoint_bytes'] / 2**20:.2f} | {statistics.mean(accs):.4f} ± {std:.4f} | "
                     f"{len(rs)} | {sum(r['wall_time_s'] for r in rs):.0f} |")
    table = "\n".join(lines)
    atomic_write(out / "final_results.md", table + "\n")
    return table


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return buf.getvalue()


class _Progress:
    """One bar line per epoch: `[name seed 0] [#####-----] epoch 5/10 ...`."""

    def __init__(self, label: str, epochs: int, log: Callable[[str], None]):
        self.label, self.epochs, self.log, self.done = label, epochs, log, 0

    def __call__(self, line: str) -> None:
        if line.startswith("epoch "):
            self.done = int(line.split()[1].split("/")[0])
        filled = round(20 * self.done / max(1, self.epochs))
        self.log(f"[final] {self.label} [{'#' * filled}{'-' * (20 - filled)}] {line}")
