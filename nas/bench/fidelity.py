"""The fidelity runner: train every (proxy, architecture, seed) of a plan, and every final
retraining the plan's reuse folders lack; cached, resumable, shareable between processes.

Everything trains in this process with the plain trainer (no Ray). A proxy run's result is
one JSON file in <out>/runs, named by a hash of its recipe, data and thread count, so two
proxies that train the same way share their runs (the mean-of-2-seeds proxy reuses
`today`'s). A final retraining is a train_final job folder, <out>/final/<arch_id>/seed-N.
Order: the first final of every net, then the proxies seed-major (every net's first seed
under every proxy before any second seed), then the other finals, so a run cut off part way
already ranks every net once.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from nas.bench.fidelity_plan import Arch, Plan, Proxy
from nas.bench.runcache import cached_path, claimed, run_all, run_cached
from nas.report.progress import duration
from nas.retrain.folders import check_folders, find_result
from nas.retrain.jobs import Job, run_job
from nas.space.config import DataConfig

Log = Callable[[str], None]


@dataclass(frozen=True)
class Task:
    kind: str  # "proxy" or "final"
    arch: Arch
    seed: int
    proxy: Proxy | None = None

    @property
    def label(self) -> str:
        what = f"proxy {self.proxy.name}" if self.proxy else "final"
        return f"{what} seed {self.seed}: {self.arch.name} `{self.arch.spec.arch_id}`"

    def identity(self) -> tuple:
        """What decides the result: two proxies that train alike share the run."""
        if self.proxy is None:
            return ("final", self.arch.spec.arch_id, self.seed)
        rec = self.proxy.recipe_for(self.seed).to_dict()
        rec.pop("name")
        return ("proxy", self.arch.spec.arch_id, json.dumps(rec, sort_keys=True), self.proxy.data)


def final_job(plan: Plan, arch: Arch, seed: int, out: Path) -> Job:
    return Job(arch.name, arch.spec, plan.final.data, plan.final.recipe_for(seed),
               out / "final" / arch.spec.arch_id / f"seed-{plan.final.recipe_for(seed).seed}")


def find_final(plan: Plan, arch: Arch, seed: int, out: Path) -> dict | None:
    """A finished final retraining of this net and seed: in <out>/final, or in a reuse folder
    when its recipe and data facts match (where the images lie does not matter)."""
    found = find_result(final_job(plan, arch, seed, out), [out / "final", *plan.final.reuse])
    return {**found[1], "result_file": str(found[0])} if found else None


def plan_tasks(plan: Plan, out: Path, proxies: tuple[str, ...] = ()) -> list[Task]:
    """Every training the plan needs, each once; finals already found are left out. With
    `proxies` (names), only the runs those proxies score, a run shared with another proxy included.

    Order: each net's first final (a net without one cannot be scored), then the proxy runs
    seed-major, then the other finals. A final recipe is built to vary little with the seed,
    so its extra seeds refine a mean; a proxy's second seed is what measures its noise."""
    unknown = [n for n in proxies if n not in {p.name for p in plan.proxies}]
    if unknown:
        raise ValueError(f"--proxy {unknown[0]}: the plan has no such proxy; its proxies: "
                         f"{', '.join(p.name for p in plan.proxies)}")
    if proxies:
        return _unique(_proxy_tasks(plan, [p for p in plan.proxies if p.name in proxies]))

    def finals(seed: int) -> list[Task]:
        return [Task("final", arch, seed) for arch in plan.archs if find_final(plan, arch, seed, out) is None]

    return _unique([*finals(0), *_proxy_tasks(plan, plan.proxies),
                    *(t for seed in range(1, plan.final.seeds) for t in finals(seed))])


def _proxy_tasks(plan: Plan, proxies: list[Proxy] | tuple[Proxy, ...]) -> list[Task]:
    """The proxies' runs, seed-major: every proxy's first seed on every net, then the second..."""
    out = []
    for k in range(max((p.average * p.seeds for p in proxies), default=0)):
        for proxy in proxies:
            seeds = [s for group in proxy.seed_groups() for s in group]
            if k < len(seeds):
                out += [Task("proxy", arch, seeds[k], proxy) for arch in plan.archs]
    return out


def _unique(tasks: list[Task]) -> list[Task]:
    """Each training once, at its first place: two proxies that train alike share the run."""
    first: dict[tuple, Task] = {}
    for t in tasks:
        first.setdefault(t.identity(), t)
    return list(first.values())


class Runner:
    """Runs tasks in this process, loading each dataset once; counts and times what it trained."""

    def __init__(self, plan: Plan, out: Path, device: str | None, log: Log):
        self.plan, self.out, self.device, self.log = plan, out, device, log
        self.bundles: dict[Any, Any] = {}
        self.trained: list[Task] = []
        self.total, self.done, self.start = 0, 0, time.perf_counter()

    def run(self, tasks: list[Task]) -> None:
        self.total = len(tasks)
        run_all([lambda wait, t=t: self._one(t, wait) for t in tasks])

    def _one(self, task: Task, wait: bool) -> dict | None:
        result = self._proxy(task, wait) if task.proxy else self._final(task, wait)
        if result is not None:
            self.done += 1
            self._progress(task, result)
        return result

    def _proxy(self, task: Task, wait: bool) -> dict | None:
        data = self._bundle(task.proxy.data)
        recipe = task.proxy.recipe_for(task.seed)
        fresh = not cached_path(self.out / "runs", task.arch.spec, recipe, data).is_file()
        row = run_cached(task.arch.spec, recipe, data, self.out / "runs", self.device, self._quiet, wait=wait)
        if row is not None and fresh:
            self.trained.append(task)
        return row

    def _final(self, task: Task, wait: bool) -> dict | None:
        job = final_job(self.plan, task.arch, task.seed, self.out)
        job.folder.mkdir(parents=True, exist_ok=True)
        while True:
            with claimed(job.folder / ".claim") as mine:
                if mine:
                    check_folders([job], resume=True)
                    fresh = not (job.folder / "result.json").is_file()
                    row = run_job(job, True, self._quiet, device=self.device,
                                  bundle=self._bundle(job.data))
                    if fresh:
                        self.trained.append(task)
                    return row
            if not wait:
                return None
            time.sleep(5)

    def _bundle(self, cfg: DataConfig) -> Any:
        """The data of `cfg`, loaded once (a final job loads the same splits: it trains on train+val)."""
        from sharesnet.data import load_data

        if cfg not in self.bundles:
            self.bundles[cfg] = load_data(**cfg.load_kwargs())
        return self.bundles[cfg]

    def _quiet(self, line: str) -> None:
        """The trainer's epoch lines, indented under the task's own line."""
        if "epoch" in line or line.startswith("[bench]"):
            self.log(f"    {line.strip()}")

    def _progress(self, task: Task, result: dict) -> None:
        score = f"val_acc {result['val_acc']:.4f}" if task.proxy else f"test_acc {result['test_acc']:.4f}"
        took = f" in {duration(result['wall_time_s'])}" if task in self.trained else " (cached)"
        self.log(f"[fidelity] {self.done}/{self.total} {task.label}: {score}{took}; "
                 f"{duration(time.perf_counter() - self.start)} so far")
