"""Final retraining: train chosen architectures on train+val, report test accuracy.

The only code path that reads the test split. Each (architecture, seed) is a job with
its own folder: the trainer's per-epoch checkpoint (spec inside: the model rebuilds
from the file alone), metrics.csv and result.json. `--gpus N` runs jobs in parallel
as Ray tasks, one GPU each; on CPU they run one after another, or `--jobs N` at a time.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import yaml

from nas.report.progress import count, duration
from nas.retrain.roles import BASELINES, export_of, origin, role_of, role_text
from nas.space.config import DataConfig
from nas.space.matched import KINDS, matched_plain
from nas.space.parse import dataset_overrides
from nas.space.problems import SpaceError
from sharesnet import build_model, checkpoint_bytes, count_flops, count_params
from sharesnet.files import atomic_write, csv_text
from sharesnet.registry import get_spec
from sharesnet.spec import ArchSpec
from sharesnet.train import Recipe

DataKey = tuple[DataConfig, int | None]  # what one loaded bundle serves: the data and its test_limit


@dataclasses.dataclass(frozen=True)
class Arch:
    """One architecture to retrain, and the data it came with."""
    name: str  # what it is: the arch_id for pareto entries, else the preset or the spec file's stem
    key: str  # its folder under --out: the arch_id for pareto entries
    spec: ArchSpec
    data: DataConfig  # pareto entries: the search's (limit included); else the command line's
    role: dict | None = None  # pareto entries: `#`, rank and baseline as of this export (nas/retrain/roles.py)
    proposed_from: str | None = None  # a proposal of scripts/propose.py: the soft net's arch_id it was read from


@dataclasses.dataclass(frozen=True)
class Job:
    name: str
    spec: ArchSpec
    data: DataConfig  # what it trains on; data.limit caps train and val, never test
    recipe: Recipe
    folder: Path
    test_limit: int | None = None  # caps the test split: smoke runs only
    role: dict | None = None  # recorded in result.json, so the tables say which export a `#` is from
    proposed_from: str | None = None  # recorded too: the tables set a proposal against its soft net

    @property
    def label(self) -> str:
        return f"{self.name} seed {self.recipe.seed}"

    @property
    def data_key(self) -> DataKey:
        return self.data, self.test_limit

    def load_kwargs(self) -> dict[str, Any]:
        return {**self.data.load_kwargs(), "test_limit": self.test_limit}


def from_pareto(path: str | Path, select: str) -> list[Arch]:
    """Entries chosen by comma-separated tokens: `all` (the front), front indices `0,2`, arch_ids,
    and `plain` / `paper`, the search's baselines; each architecture once, in the order asked.
    Each is named by its arch_id; its `#` and rank in this export go with it as its role."""
    path = Path(path)
    if not path.is_file():
        raise SpaceError(f"{path}: no such pareto file; run scripts/export_pareto.py --experiment DIR first")
    doc = yaml.safe_load(path.read_text()) or {}
    front, base = doc.get("front") or [], doc.get("baselines") or {}
    export = export_of(doc)
    # (entry, its `#` or None): the front, then the baselines and the runners-up (rank 2) not on it
    entries = [(e, i) for i, e in enumerate(front)]
    for e in [*base.values(), *(doc.get("runners_up") or [])]:
        if e["arch_id"] not in {f["arch_id"] for f, _ in entries}:
            entries.append((e, None))
    chosen: dict[str, Arch] = {}
    tokens = [t.strip() for t in select.split(",")]
    for token in (t for t in tokens if t not in MATCHED):
        for entry, index in _select(token, entries, front, base, path):
            if entry["arch_id"] not in chosen:
                chosen[entry["arch_id"]] = _arch(entry, origin(entry, index, export), path)
    kinds = [k for t in tokens for k in MATCHED.get(t, ())]
    if kinds:
        members = [a for a in chosen.values() if a.role and a.role["front_index"] is not None] or \
            [_arch(e, origin(e, i, export), path) for i, e in enumerate(front)]
        for a in matched_archs(members, kinds, base, path):
            chosen.setdefault(a.key, a)
    return list(chosen.values())


# --select tokens for unshared nets of the front members' sizes: "does sharing beat shrinking?"
MATCHED = {"matched": KINDS, **{k: (k,) for k in KINDS}}


def matched_archs(members: list[Arch], kinds: list[str], base: dict[str, dict], path: Path) -> list[Arch]:
    """For each front member, the unshared net of each kind closest to its parameter count, built
    from the search's plain baseline (nas/space/matched.py); each net once, as the first member's match."""
    if "plain" not in base:
        raise SpaceError(f"{path}: --select matched: this export has no plain baseline to shrink (the search's "
                         f"`plain` warm start); retrain matched nets from a search that evaluated it, or give "
                         f"their specs with --arch")
    plain = ArchSpec.from_dict(base["plain"]["spec"], where=f"{path}: baselines.plain.spec")
    out: dict[str, Arch] = {}
    for member in members:
        for kind in dict.fromkeys(kinds):
            spec = matched_plain(plain, count_params(build_model(member.spec)), kind)
            role = {**member.role, "front_index": None, "rank": None, "baseline": None, "search": None,
                    "matched": kind, "matches": member.key}
            out.setdefault(spec.arch_id, Arch(spec.arch_id, spec.arch_id, spec, member.data, role))
    return list(out.values())


def _select(token: str, entries: list[tuple[dict, int | None]], front: list[dict], base: dict[str, dict],
            path: Path) -> list[tuple[dict, int | None]]:
    if not front and (token == "all" or token.isdigit()):
        have = f"; its baselines are still there: --select {','.join(base)}" if base else ""
        raise SpaceError(f"the front in {path} is empty (its search evaluated no architecture to the end; see "
                         f"trials.csv beside it), so --select {token} has nothing to retrain{have}")
    if token == "all":
        return [(e, i) for e, i in entries if i is not None]
    if token == "runners-up":
        ranked2 = [(e, i) for e, i in entries if e.get("rank") == 2 and i is None]
        if not ranked2:
            raise SpaceError(f"{path}: --select runners-up: this export lists no net of rank 2 (its search ranked "
                             f"every net on the front, or it was exported before runners-up were)")
        return ranked2
    if token.isdigit() and int(token) < len(front):
        return [(front[int(token)], int(token))]
    if token in BASELINES and token not in base:
        raise SpaceError(f"{path}: --select {token}: this search has no {token} baseline to retrain (it was not "
                         f"evaluated: see the search's summary); baselines here: {', '.join(base) or 'none'}")
    if token in base:
        return [(e, i) for e, i in entries if e["arch_id"] == base[token]["arch_id"]][:1]
    hits = [(e, i) for e, i in entries if e["arch_id"] == token]
    if not hits:
        raise SpaceError(f"{path}: --select {token!r} matches no entry (all, front indices 0..{len(front) - 1}, "
                         f"{', '.join(base) or 'no baselines'}, runners-up, or one of "
                         f"{[e['arch_id'] for e, _ in entries]})")
    return hits


def _arch(entry: dict, role: dict, path: Path) -> Arch:
    spec = ArchSpec.from_dict(entry["spec"], where=f"{path}: {entry['arch_id']}.spec")
    return Arch(entry["arch_id"], entry["arch_id"], spec, DataConfig(**entry["data"]), role)


def roles_line(path: str | Path, archs: list[Arch]) -> str:
    """`[final] from <pareto> (exported after 24 evaluated architectures): <arch_id> front #0, ...`: the `#`
    and ranks this run's pareto file gives, since a search that is extended renumbers its front."""
    doc = yaml.safe_load(Path(path).read_text()) or {}
    named = ", ".join(f"{a.name} {role_text(role_of({'role': a.role}), {})}" for a in archs if a.role)
    return f"[final] from {path} (exported after {doc.get('n_candidates', '?')} evaluated architectures): {named}"


def from_preset(name: str, data: DataConfig) -> Arch:
    return Arch(name, name, get_spec(name, **dataset_overrides(data, {})), data)


def from_file(path: str | Path, data: DataConfig) -> Arch:
    spec = ArchSpec.load(path)
    return Arch(Path(path).stem, Path(path).stem, spec, data, proposed_from=_soft_source(path, spec))


def _soft_source(path: str | Path, spec: ArchSpec) -> str | None:
    """The soft net a scripts/propose.py proposal file was read from (its `from.soft_arch_id`); None for
    any other spec file, and for the soft net's own file."""
    doc = yaml.safe_load(Path(path).read_text())  # valid: ArchSpec.load has read it
    made = doc.get("from") if isinstance(doc, dict) else None
    source = made.get("soft_arch_id") if isinstance(made, dict) else None
    return source if source != spec.arch_id else None


def from_files(path: str | Path, data: DataConfig) -> list[Arch]:
    """A spec file, or every *.yaml / *.json spec in a folder, by name (e.g. scripts/propose.py's specs/)."""
    path = Path(path)
    if not path.is_dir():
        return [from_file(path, data)]
    files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
    if not files:
        raise SpaceError(f"--arch {path}: a folder without spec files (*.yaml, *.json)")
    return [from_file(p, data) for p in files]


def make_jobs(archs: list[Arch], recipe: Recipe, seeds: int, out: Path, test_limit: int | None = None) -> list[Job]:
    """Seed-major order: every architecture gets its first seed before any gets a second, so a
    retraining cut off part way still has each net at n >= 1 to compare."""
    return [Job(a.name, a.spec, a.data, dataclasses.replace(recipe, seed=recipe.seed + k),
                out / a.key / f"seed-{recipe.seed + k}", test_limit, a.role, a.proposed_from)
            for k in range(seeds) for a in archs]


def load_bundles(jobs: list[Job]) -> dict[DataKey, Any]:
    """Each distinct dataset of the jobs, loaded once: jobs that share data share the bundle."""
    from sharesnet.data import load_data

    bundles: dict[DataKey, Any] = {}
    for job in jobs:
        if job.data_key not in bundles:
            bundles[job.data_key] = load_data(**job.load_kwargs())
    return bundles


def describe_data(key: DataKey, bundle, searched: set[int | None]) -> str:
    """One line: what the jobs on this data train and test on, and any limit that shapes it."""
    data, test_limit = key
    n_train, n_val, n_test = len(bundle.train), len(bundle.val), len(bundle.test)
    notes = [f"limit {data.limit:,} on train and on val" if data.limit else "no limit"]
    if test_limit:
        notes.append(f"test capped at {test_limit:,}: a smoke check, not the test accuracy to report")
    notes += [f"the search used limit {s:,}, pass --limit {s} to keep it" for s in sorted(searched - {None})
              if s != data.limit]
    where = f" ({data.data_dir})" if data.data_dir else ""
    return (f"[final] data: {data.dataset}{where}: trains on {n_train:,} train + {n_val:,} val = "
            f"{n_train + n_val:,} images, tests on {n_test:,} ({'; '.join(notes)})")


def run_job(job: Job, resume: bool, log: Callable[[str], None] = print, *, device: str | None = None,
            bundle=None) -> dict[str, Any]:
    """Train one job on train+val and evaluate it on test; reuse a finished result on resume."""
    import torch

    from sharesnet.data import load_data
    from sharesnet.train import train

    done = job.folder / "result.json"
    if done.is_file() and resume:  # final_folders.check_folders has compared it with this job
        row = json.loads(done.read_text())
        # Its role is the one it was trained under: a later export may number it otherwise.
        was = role_text(role_of(row), {})
        log(f"[final] {job.label}: already finished{f' (retrained as {was})' if was else ''}, reusing {done}")
        return row
    job.folder.mkdir(parents=True, exist_ok=True)
    data = bundle if bundle is not None else load_data(**job.load_kwargs())
    result = train(job.spec, job.recipe, data, checkpoint_dir=job.folder, device=device, train_on="train+val",
                   evaluate_test=True, log=_EpochBar(job.label, job.recipe.last_epoch, log))
    model = build_model(job.spec)
    row = {"name": job.name, "arch_id": job.spec.arch_id, "seed": job.recipe.seed, "test_acc": result.test_acc,
           "params": count_params(model),
           # FLOPs at the size the job trained on: the loaded images, not a configured default.
           "flops": count_flops(model, (data.in_channels, *data.image_size)),
           "checkpoint_bytes": checkpoint_bytes(model), "epochs": result.epochs_run,
           "wall_time_s": result.wall_time_s, "images_per_s": result.images_per_s, "precision": result.precision,
           # every epoch's time, those of runs before a resume too: wall_time_s is this run's alone
           "train_time_s": sum(h.get("epoch_time_s") or 0.0 for h in result.history),
           "resumed_at_epoch": result.resumed_at_epoch,
           "device": result.device, "threads": torch.get_num_threads(),
           "train_images": len(data.train) + len(data.val), "test_images": len(data.test),
           "test_limit": job.test_limit, "checkpoint": str(job.folder / "last.pt"), "spec": job.spec.to_dict(),
           "recipe": job.recipe.to_dict(), "data": dataclasses.asdict(job.data), "split_seed": job.data.split_seed,
           "role": job.role, "proposed_from": job.proposed_from}
    atomic_write(job.folder / "metrics.csv", csv_text(result.history))
    atomic_write(done, json.dumps(row, indent=1))
    resumed = f", resumed at epoch {result.resumed_at_epoch}: {row['train_time_s']:.0f} s of epochs in all" \
        if result.resumed_at_epoch else ""
    log(f"[final] {job.label}: test accuracy {result.test_acc:.4f} ({count(result.epochs_run, 'epoch')}, "
        f"{result.wall_time_s:.0f} s{resumed})")
    return row


def cpu_cores() -> int:
    """The cores this process may run on (its affinity), not the machine's count."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def threads_per_job(cpu_jobs: int) -> int:
    """The torch threads of each of `cpu_jobs` jobs run at once: the cores split evenly."""
    return max(1, cpu_cores() // cpu_jobs)


def run_all(jobs: list[Job], gpus: int, resume: bool, bundles: dict[DataKey, Any] | None = None,
            log: Callable[[str], None] = print, cpu_jobs: int = 1) -> list[dict]:
    """Every job: one after another in this process (on its default device), as Ray tasks with one
    GPU each (`gpus`), or `cpu_jobs` at a time as Ray tasks that split the CPU cores between them.

    Small nets use many threads poorly, so on a CPU several one-thread jobs at once train more
    images per second than one job with every thread."""
    tally = _Tally(jobs, max(1, gpus, cpu_jobs), log)
    # Jobs finished before this run are read here and counted first: queued as Ray tasks they
    # would wait for a slot behind the training ones, and the count would lag behind the truth.
    rows = {i: tally(j, run_job(j, resume, log)) for i, j in enumerate(jobs) if resume and j.folder not in tally.fresh}
    todo = [i for i in range(len(jobs)) if i not in rows]
    if not todo or (gpus <= 0 and cpu_jobs <= 1):  # no Ray started when nothing is left to train
        for i in todo:
            rows[i] = tally(jobs[i], run_job(jobs[i], resume, log, bundle=(bundles or {}).get(jobs[i].data_key)))
        return [rows[i] for i in range(len(jobs))]
    # Every task's epoch lines reach this console: in full (Ray would fold similar lines of
    # different jobs into "repeated 3x") and without colour codes, which a log file would keep.
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")  # read when ray is first imported
    os.environ.setdefault("RAY_COLOR_PREFIX", "0")
    import ray

    if not ray.is_initialized():
        from nas.run.cluster import start_ray

        start_ray(num_gpus=gpus, include_dashboard=False, logging_level="ERROR")
    if gpus > 0:
        refs = [ray.remote(num_gpus=1, max_retries=0)(_gpu_job).remote(jobs[i], resume) for i in todo]
    else:
        threads = threads_per_job(cpu_jobs)
        task = ray.remote(num_cpus=threads, max_retries=0)(_cpu_job)
        refs = [task.remote(jobs[i], resume, threads) for i in todo]
    try:
        index, pending = dict(zip(refs, todo)), list(refs)
        while pending:  # in the order they finish, each with the count and the time to go
            ready, pending = ray.wait(pending, num_returns=1)
            i = index[ready[0]]
            rows[i] = tally(jobs[i], ray.get(ready[0]))
        return [rows[i] for i in range(len(jobs))]
    except BaseException:  # Ctrl-C, SIGTERM or a failed job: stop the rest; each keeps its last epoch
        for ref in refs:
            ray.cancel(ref, force=True)
        raise


def _cpu_job(job: Job, resume: bool, threads: int) -> dict[str, Any]:
    """A Ray task holding `threads` CPU cores: it trains on the CPU with that many torch threads."""
    import torch

    torch.set_num_threads(threads)
    return run_job(job, resume, device="cpu")


def _gpu_job(job: Job, resume: bool) -> dict[str, Any]:
    """A Ray task holding one GPU: it trains there, never quietly on the CPU."""
    import torch

    if not torch.cuda.is_available():
        seen = os.environ.get("CUDA_VISIBLE_DEVICES")
        raise RuntimeError(f"{job.label}: Ray gave this task a GPU, but torch sees no CUDA device in it "
                           f"(CUDA_VISIBLE_DEVICES={seen!r}); refusing to train on the CPU")
    return run_job(job, resume, device="cuda")


class _Tally:
    """`[final] 3/14 job(s) finished (net seed 1: test accuracy 0.8412); about 5h10m to go`. The
    time to go is this run's pace so far: shown once as many jobs as run at once have been
    trained here (the first of two parallel jobs to finish would make it look twice as long).
    A job that had finished before this run is counted, not timed."""

    def __init__(self, jobs: list[Job], at_once: int, log: Callable[[str], None]):
        self.total, self.at_once, self.log = len(jobs), at_once, log
        self.fresh = {j.folder for j in jobs if not (j.folder / "result.json").is_file()}
        self.done = self.trained = 0
        self.start = time.perf_counter()

    def __call__(self, job: Job, row: dict[str, Any]) -> dict[str, Any]:
        self.done += 1
        self.trained += job.folder in self.fresh
        left = len(self.fresh) - self.trained  # only jobs to train take time
        eta = ""
        if left and self.trained >= self.at_once:
            eta = f"; about {duration((time.perf_counter() - self.start) / self.trained * left)} to go"
        self.log(f"[final] {self.done}/{self.total} job(s) finished ({job.label}: test accuracy "
                 f"{row['test_acc']:.4f}){eta}")
        return row


class _EpochBar:
    """One bar line per epoch, with the job's ETA: `[name seed 0] [#####-----] epoch 5/10 ... ETA 1m20s`."""

    def __init__(self, label: str, epochs: int, log: Callable[[str], None]):
        self.label, self.epochs, self.log = label, epochs, log
        self.done, self.first, self.start = 0, None, time.perf_counter()

    def __call__(self, line: str) -> None:
        eta = ""
        if line.startswith("epoch "):
            self.done = int(line.split()[1].split("/")[0])
            self.first = self.done - 1 if self.first is None else self.first  # a resumed job starts later
            # Per-epoch time measured in this process (model set-up included), over what is left.
            per_epoch = (time.perf_counter() - self.start) / max(1, self.done - self.first)
            left = self.epochs - self.done
            eta = f" ETA {duration(per_epoch * left)}" if left else " done"
        filled = round(20 * self.done / max(1, self.epochs))
        self.log(f"[final] {self.label} [{'#' * filled}{'-' * (20 - filled)}] {line}{eta}")
