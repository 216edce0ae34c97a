"""The logic of scripts/gpu_check.py: six measurements on one GPU, one Markdown report."""
from __future__ import annotations

import csv
import dataclasses
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Callable

from nas.bench.gpu_measure import GpuSampler, describe_gpu
from nas.cli.args import Parser
from nas.run.signals import interrupts_raise

ROOT = Path(__file__).resolve().parents[2]  # the project: scripts/ and search_spaces/ are found from here

FAULT_ENV = "SHARESNET_GPU_CHECK_FAULT"  # "<step key>": that step raises, to test the failure path
GRACE_S = 10  # after SIGTERM: the search exports its partial front and exits 143 in this time
LOG_LINES = 300  # of each command's output kept in gpu_check.log
ARCHIVES = ("cifar10-jpeg-train.tar.gz", "cifar10-jpeg-test.tar.gz")


class StepError(RuntimeError):
    """A step failed; the message is the report's one-line reason."""


@dataclasses.dataclass
class Step:
    key: str
    title: str
    budget_s: float  # on the H200; about 7.5 minutes in all, under the device's 10 minutes a command
    run: Callable[["Check", "Section"], None]


@dataclasses.dataclass
class Section:
    step: Step
    lines: list[str] = dataclasses.field(default_factory=list)
    status: str = "not run"
    seconds: float = 0.0
    error: str = ""
    gpu: dict | None = None  # nvidia-smi samples over the step
    headline: str = ""  # the step's main figure, for the summary table

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)


@dataclasses.dataclass
class Ran:
    rc: int
    output: str
    seconds: float
    timed_out: bool


class Check:
    """What every step needs: mode, folders, data, the budget clock, and a runner for commands."""

    def __init__(self, args):
        self.dry, self.out = args.dry_run, Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.work = Path(tempfile.mkdtemp(prefix="gpu-check-"))  # experiments, results, logs: never the repo
        self.log = (self.out / "gpu_check.log").open("w")
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if self.dry:  # the dry run is a CPU run, even on a machine with a GPU
            self.env["CUDA_VISIBLE_DEVICES"] = ""
        self.sampler = GpuSampler().start()
        self.deadline = float("inf")
        self.data_dir, self.data_note = self._find_data(args.data_dir)
        self.commands = 0

    def _find_data(self, given: str | None) -> tuple[Path | None, str]:
        """--data-dir, else the CIFAR-10 archives in .gpukit/ extracted here; the dry run needs none."""
        if self.dry:
            return None, "dry run: digits (bundled with scikit-learn) and synthetic images"
        if given:
            return Path(given), f"CIFAR-10 JPEGs in {given} (--data-dir)"
        archives = [ROOT / ".gpukit" / a for a in ARCHIVES]
        if not all(a.is_file() for a in archives):
            return None, (f"no CIFAR-10: pass --data-dir DIR, a folder scripts/cifar10_to_folder.py writes (or, "
                          f"developing, copy {' and '.join(ARCHIVES)} into .gpukit/: docs/development.md)")
        t = time.perf_counter()
        for a in archives:
            done = subprocess.run(["tar", "-xzf", str(a), "-C", str(self.work)], capture_output=True, text=True)
            if done.returncode:  # the steps that need CIFAR-10 fail with this; the others still run
                return None, f"extracting {a.name} failed: {done.stderr.strip()[-300:]}"
        return self.work, f"CIFAR-10 JPEGs from .gpukit/ extracted to {self.work} in {time.perf_counter() - t:.1f} s"

    def cifar(self) -> str:
        if self.data_dir is None or not (self.data_dir / "train").is_dir():
            raise StepError(self.data_note if self.data_dir is None else f"no train/ folder in {self.data_dir}")
        return str(self.data_dir)

    def run(self, sec: Section, cmd: list[str]) -> Ran:
        """Run one command in its own process group, stopped at the step's deadline."""
        cmd = [str(c) for c in cmd]
        sec.add(f"`$ {shlex.join(cmd)}`", "")
        self.commands += 1
        log = self.work / f"{sec.step.key}-{self.commands}.log"
        t0, timed_out = time.perf_counter(), False
        with log.open("w") as fh:
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=self.env,
                                    start_new_session=True)
            try:
                rc = proc.wait(timeout=max(1.0, self.deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out, rc = True, _stop(proc)
            except BaseException:  # the check itself is stopped: take the step's processes along
                _stop(proc)
                raise
        output = log.read_text(errors="replace")
        seconds = time.perf_counter() - t0
        kept = output.splitlines()[-LOG_LINES:]
        self.log.write(f"===== [{sec.step.key}] $ {shlex.join(cmd)}\n===== rc {rc}, {seconds:.1f} s"
                       f"{', timed out' if timed_out else ''}; last {len(kept)} lines:\n" + "\n".join(kept) + "\n\n")
        self.log.flush()
        return Ran(rc, output, seconds, timed_out)

    def check(self, ran: Ran, what: str = "the command") -> None:
        if ran.timed_out:
            raise StepError(f"{what} ran past the step's budget and was stopped after {ran.seconds:.0f} s")
        if ran.rc != 0:
            raise StepError(f"{what} exited with {ran.rc}")

    def measure(self, sec: Section, what: str) -> dict:
        """One gpu_measure.py measurement, given the step's remaining budget; its JSON result."""
        out = self.work / f"{what}.json"
        left = int(self.deadline - time.monotonic()) - 15  # python and CUDA start-up, and the JSON
        cmd = [sys.executable, "-m", "nas.bench.gpu_measure", what, "--json", out, "--seconds", max(10, left)]
        cmd += ["--dry-run"] if self.dry else (["--data-dir", self.cifar()] if what != "imagenet" else [])
        self.check(self.run(sec, cmd), f"gpu_measure.py {what}")
        return json.loads(out.read_text())


def _stop(proc: subprocess.Popen) -> int:
    """SIGTERM to the whole group (Ray and DataLoader workers too), SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, GRACE_S), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            return proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    return -9


# --- the steps ----------------------------------------------------------------------------
def step_bench(ck: Check, sec: Section) -> None:
    if ck.dry:
        cmd = [sys.executable, "scripts/bench_train.py", "--smoke", "--device", "cpu", "--repeats", "1"]
    else:
        # One repeat: each measurement is a fresh process (CUDA start-up, data load); a GPU is steadier
        # than the shared CPU the default two repeats were made for.
        cmd = [sys.executable, "scripts/bench_train.py", "--device", "cuda", "--data-dir", ck.cifar(),
               "--steps", "50", "--warmup", "10", "--repeats", "1"]
    ran = ck.run(sec, cmd)
    ck.check(ran, "bench_train.py")
    sec.add(ran.output[ran.output.find("Hardware:"):].strip())  # the bench's own table and ratios
    ratios = re.findall(r"(shared / unshared images/s: [\d.]+|engine / reference images/s: [\d.]+x)", ran.output)
    sec.headline = "; ".join(ratios)


def step_accuracy(ck: Check, sec: Section) -> None:
    r = ck.measure(sec, "accuracy")
    sec.add(f"Model: {r['model']}, {r['params']:,} params, {r['flops'] / 1e9:.3f} GFLOPs (fvcore, 1 MAC = 1 flop); "
            f"recipe {r['recipe']}; {r['precision']} autocast, channels_last; {r['dataset']}: trains on "
            f"{r['train_images']:,} images, tests on {r['test_images']:,}; on {r['device']}.", "")
    goal = f"{r['target']:.0%}"
    sec.headline = (f"{goal} in {r['time_to_target_s']:.1f} s, {r['epochs_to_target']} epochs" if r["reached"]
                    else f"{goal} not reached in {len(r['curve'])} epochs")
    if r["reached"]:
        sec.add(f"**{goal} test accuracy after {r['epochs_to_target']} epochs: {r['time_to_target_s']:.1f} s** "
                f"from the call to train() (model build and cudnn's kernel search included; training steps alone "
                f"{r['train_s_to_target']:.1f} s). Decoded data was loaded before, in {r['data_load_s']:.1f} s.")
    else:
        best = max((c["test_acc"] for c in r["curve"]), default=0)
        sec.add(f"**{goal} not reached** in {len(r['curve'])} epochs (best {best:.4f}); "
                f"the run stops at the target or before its budget.")
    sec.add("", f"Reference, not a target here: {r['anchor']}.", "",
            "This step evaluates the test split after every epoch (train() with the test split as its per-epoch "
            "evaluation, and evaluate_test=True): that is the benchmark's definition, time to a test accuracy. It "
            "measures the engine's speed and selects nothing; searches and retraining never do this.", "",
            "| epoch | test acc | wall (s) | train steps (s) | images/s |", "|---:|---:|---:|---:|---:|")
    sec.add(*(f"| {c['epoch']} | {c['test_acc']:.4f} | {c['wall_s']:.1f} | {c['train_s']:.1f} | {c['images_per_s']:,} |"
              for c in r["curve"]))
    sec.add("", f"Peak memory (CUDA: max allocated; CPU: RSS growth): {r['peak_memory_gib']} GiB; torch {r['torch']}.")


def step_packing(ck: Check, sec: Section) -> None:
    r = ck.measure(sec, "packing")
    sec.add(f"Model: {r['model']}, {r['params']:,} params, batch {r['batch_size']}, on {r['device']}. One process per "
            f"training, all started at once ({r['start_s']} s to load, build and warm up), then timed together "
            f"for {r['seconds_per_level']} s per level. GPU samples: `{r['sampler']}`.", "",
            "| trainings on one GPU | images/s per process | total images/s | vs 1 | GPU util | "
            "peak allocated per process (GiB) |", "|---:|---|---:|---:|---|---:|")
    one = r["levels"][0]["total_images_per_s"] or 1
    for lv in r["levels"]:
        sec.add(f"| {lv['procs']} | {', '.join(f'{x:,}' for x in lv['per_process'])} | {lv['total_images_per_s']:,} | "
                f"{lv['total_images_per_s'] / one:.2f}x | {describe_gpu(lv['gpu'])} | {lv['peak_memory_gib']} |")
    best = max(r["levels"], key=lambda lv: lv["total_images_per_s"])
    sec.headline = f"best {best['total_images_per_s']:,} images/s with {best['procs']} per GPU"
    sec.add("", f"**Best total at {r['best_procs']} training(s) per GPU; the fewest within 5% of it: "
                f"{r['enough_procs']}, i.e. `--gpus-per-trial {1 / r['enough_procs']:g}`** (what a default "
                f"`--gpus-per-trial auto` would follow for this base).")


def step_search(ck: Check, sec: Section) -> None:
    import yaml

    space = yaml.safe_load((ROOT / "search_spaces/gpu-check.yaml").read_text())
    if ck.dry:  # digits on the CPU: the same driver, trials and export, in seconds
        space.update(data={"dataset": "digits", "val_fraction": 0.25, "limit": 300}, trials=3)
        space["train"].update(epochs=1, batch_size=64)
        flags = ["--gpus", "0"]
    else:
        space["data"]["data_dir"] = ck.cifar()
        flags = ["--gpus", "1", "--gpus-per-trial", "0.25"]
    path = ck.work / "gpu-check-space.yaml"
    path.write_text(yaml.safe_dump(space, sort_keys=False))
    sec.add(f"Space: `search_spaces/gpu-check.yaml` with data {space['data']}, {space['trials']} trainings of "
            f"{space['train']['epochs']} epochs.", "")
    ran = ck.run(sec, [sys.executable, "scripts/search.py", "--space", path, "--out", ck.work / "experiments", *flags])
    out = ran.output
    for pattern in (r"\[search\] Ray: .*", r"\[search\] data: .*", r"\[search\] [\d.]+ s for \d+ trainings on .*",
                    r"\[search\] done in .*", r"\[search\] INTERRUPTED .*"):
        sec.add(*(f"- `{m}`" for m in re.findall(pattern, out)))
    fill = re.search(r"on (\d+) trial slots; training steps filled (\d+)% of slot time", out)
    gpus = 1 if not ck.dry else 0
    if fill:
        per_gpu = f"{int(fill[1]) / gpus:g} trials packed per GPU" if gpus else "CPU trials"
        sec.add("", f"**Slot fill {fill[2]}%** on {fill[1]} trial slots ({per_gpu}).")
        sec.headline = f"slot fill {fill[2]}%, {fill[1]} slots"
    sec.add("", *_journal_summary(ck.work / "experiments" / space["name"] / "trials.jsonl"))
    front = out[out.find("Pareto front:"):].splitlines() if "Pareto front:" in out else []
    table = [line for line in front if line.startswith("|")]
    if table:
        sec.add("", front[0], "", *table)
    ck.check(ran, "search.py")


def _journal_summary(path: Path) -> list[str]:
    """Statuses and devices of the journal's rows, and how many trainings overlapped at most."""
    if not path.is_file():
        return ["No trials.jsonl: the search trained nothing."]
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    count = lambda key: ", ".join(f"{n} {v}" for v, n in sorted(Counter(str(r.get(key)) for r in rows).items()))
    # A row is written when its training ends: `time` is its end, `wall_time_s` its length.
    spans = [(r["time"] - r["wall_time_s"], r["time"]) for r in rows if r.get("wall_time_s") and r.get("time")]
    edges = sorted([(t0, 1) for t0, _ in spans] + [(t1, -1) for _, t1 in spans])
    running = [sum(d for _, d in edges[:i + 1]) for i in range(len(edges))]
    return [f"Journal: {len(rows)} rows: {count('status')}; devices: {count('device')}; at most "
            f"{max(running, default=0)} training(s) ran at once."]


def step_compile(ck: Check, sec: Section) -> None:
    # ResNet-20: compiling a deeper net (fwd, bwd, then the eval graph) could take the whole budget.
    preset, epochs = "cifar_resnet20", "2" if ck.dry else "3"
    data = ["--dataset", "digits", "--limit", "200", "--test-limit", "200"] if ck.dry else \
        ["--dataset", "imagefolder", "--data-dir", ck.cifar()]
    runs: dict[str, tuple[dict, list[dict]]] = {}
    try:
        for mode in ("off", "on"):  # eager first: its figures stay in the report if compiling fails
            recipe = ck.work / f"recipe-compile-{mode}.yaml"
            recipe.write_text(f"base: fast\ncompile: {'true' if mode == 'on' else 'false'}\n")
            folder = ck.work / f"final-compile-{mode}"
            ran = ck.run(sec, [sys.executable, "scripts/train_final.py", "--preset", preset, "--recipe", recipe,
                               "--epochs", epochs, "--out", folder, *data])
            ck.check(ran, f"train_final.py with compile {mode}")
            job = folder / preset / "seed-0"
            runs[mode] = (json.loads((job / "result.json").read_text()),
                          list(csv.DictReader((job / "metrics.csv").open())))
    finally:
        sec.add(*_compile_table(runs, preset, epochs, ck.dry))
        rates = {m: _later_rate(hist) for m, (_, hist) in runs.items()}
        sec.headline = ", ".join(f"compile {m}: {v:,.0f} images/s" for m, v in rates.items())


def _later_rate(hist: list[dict]) -> float:
    """Mean images/s after the first epoch (which pays for compiling and cudnn's kernel search)."""
    later = hist[1:] or hist
    return sum(float(h["images_per_s"]) for h in later) / len(later)


def _compile_table(runs: dict, preset: str, epochs: str, dry: bool) -> list[str]:
    if not runs:
        return []
    lines = ["", "| torch.compile | epoch 1 (s) | later epochs (s, each) | images/s, later epochs | wall (s) | "
             "test acc |", "|---|---:|---:|---:|---:|---:|"]
    first, later = {}, {}
    for mode, (res, hist) in runs.items():
        times = [float(h["epoch_time_s"]) for h in hist]
        first[mode], later[mode] = times[0], sum(times[1:]) / max(1, len(times) - 1)
        lines.append(f"| {mode} | {times[0]:.1f} | {later[mode]:.2f} | {_later_rate(hist):,.0f} | "
                     f"{res['wall_time_s']:.1f} | {res['test_acc']:.4f} |")
    res = next(iter(runs.values()))[0]
    lines += ["", f"{preset}, {epochs} epochs of `fast` on train+val, {res['device']}, {res['precision']}."]
    if len(runs) == 2:
        paid = (first["on"] - later["on"]) - (first["off"] - later["off"])  # beyond eager's own first-epoch cost
        saved = later["off"] - later["on"]
        lines[-1] += (f" Compile time paid in epoch 1: about {paid:.1f} s; each later epoch "
                      f"{'saves' if saved >= 0 else 'loses'} {abs(saved):.2f} s"
                      + (f", so compiling pays off after about {paid / saved:.0f} epochs."
                         if saved > 0 and paid > 0 else ".")
                      + " The compiled run's wall time also holds the evaluation graph's compile.")
    if dry:
        lines[-1] += " On the CPU the engine ignores `compile`: the dry run only checks the path."
    return lines


def step_imagenet(ck: Check, sec: Section) -> None:
    r = ck.measure(sec, "imagenet")
    sec.headline = f"{r['model']}: {r['images_per_s']:,} images/s at {r['side']} px"
    sec.add(f"| preset | params | FLOPs at {r['side']} px (G, fvcore: 1 MAC = 1 flop) | counting took (s) |",
            "|---|---:|---:|---:|")
    for name, f in r["flops"].items():
        sec.add(f"| {name} | {f['params']:,} | {f['flops'] / 1e9:.3f} | {f['count_s']} |")
    sec.add("", f"Training {r['model']} on synthetic {r['side']}x{r['side']} images, batch {r['batch_size']}, "
                f"{r['steps']} steps, {r['precision']}, on {r['device']}: **{r['images_per_s']:,} images/s** after the "
                f"first epoch ({r['images_per_s_first_epoch']:,} in the first, which pays for cudnn's kernel search); "
                f"peak memory {r['peak_memory_gib']} GiB; {r['wall_s']} s in all.")


STEPS = [
    # Budgets on the H200, 450 s in all; each is about 1.5x the step's estimated time. The device
    # allows 10 minutes a command, and `source .gpukit/setup.sh` takes about one.
    Step("bench", "1. Engine benchmark: sharing ratio, engine vs a plain DataLoader loop", 80, step_bench),
    Step("accuracy", "2. Time to 91% test accuracy on CIFAR-10", 75, step_accuracy),
    Step("packing", "3. Packing: trainings per GPU", 70, step_packing),
    Step("search", "4. A short search with fractional GPUs", 100, step_search),
    Step("compile", "5. Final retraining with torch.compile off and on", 80, step_compile),
    Step("imagenet", "6. ImageNet presets at 224 px: FLOPs and training", 45, step_imagenet),
]
DRY_BUDGET_S = 150  # per step: a busy 2-core CPU starting Ray is slower than the H200 at full size


# --- the report ---------------------------------------------------------------------------
def header(ck: Check, argv: list[str]) -> list[str]:
    import torch

    gpus = _text(["nvidia-smi", "-L"]) or "nvidia-smi not found"
    # An exclusive compute mode would refuse the packing and fractional-GPU steps their second process.
    driver = _text(["nvidia-smi", "--query-gpu=driver_version,memory.total,compute_mode", "--format=csv,noheader"])
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    versions = ", ".join(f"{p} {_version(p)}" for p in ("ray", "optuna", "fvcore", "torchvision"))
    cpu = next((ln.split(":", 1)[1].strip() for ln in _read("/proc/cpuinfo").splitlines()
                if ln.startswith("model name")), platform.processor())
    mode = "**dry run**: CPU, tiny sizes; the figures check the code paths and measure nothing" if ck.dry else \
        "device run"
    return [f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
            f"- mode: {mode}",
            f"- GPU (`nvidia-smi -L`): {'; '.join(gpus.splitlines())}"
            + (f"; driver, memory, compute mode: {'; '.join(driver.splitlines())}" if driver else ""),
            f"- torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {cudnn}; "
            f"Python {platform.python_version()}; {versions}",
            f"- CPU: {os.cpu_count()} logical cores, {cpu}",
            f"- data: {ck.data_note}",
            f"- commit: {_text(['git', '-C', str(ROOT), 'rev-parse', '--short', 'HEAD']) or 'unknown'}",
            f"- command: `{shlex.join(['bash', 'scripts/gpu_check.sh', *argv])}`"]


def write_report(ck: Check, head: list[str], sections: list[Section], started: float, done: bool) -> None:
    failed = [s for s in sections if s.status not in ("ok", "not run")] + \
        ([s for s in sections if s.status == "not run"] if done else [])
    total = time.monotonic() - started
    verdict = ("**all steps passed**" if not failed else
               f"**{len(failed)} step(s) failed: {', '.join(s.step.key for s in failed)}**") if done else "running"
    lines = ["# GPU check report", "", *head, f"- total: {total:.0f} s; result: {verdict}", "",
             "| step | status | headline | wall (s) | budget (s) | GPU util, memory (nvidia-smi) |",
             "|---|---|---|---:|---:|---|"]
    for s in sections:
        lines.append(f"| {s.step.title} | {s.status} | {s.headline} | {s.seconds:.0f} | {_budget(ck, s.step):.0f} | "
                     f"{describe_gpu(s.gpu)} |")
    lines += [""] if failed else []
    lines += [f"- **{s.step.key}** {s.status}" + (f": {s.error}" if s.error else "") for s in failed]
    for s in sections:
        lines += ["", f"## {s.step.title}", "", f"Status: **{s.status}** in {s.seconds:.0f} s "
                  f"(budget {_budget(ck, s.step):.0f} s). GPU: {describe_gpu(s.gpu)}.", "", *s.lines]
        if s.error:
            lines += ["", f"**Error:** {s.error}"]
    (ck.out / "gpu_report.md").write_text("\n".join(lines) + "\n")


def _budget(ck: Check, step: Step) -> float:
    return DRY_BUDGET_S if ck.dry else step.budget_s


def run_step(ck: Check, sec: Section) -> None:
    t0, wall0 = time.monotonic(), time.time()
    ck.deadline = t0 + _budget(ck, sec.step)
    print(f"[gpu-check] {sec.step.title} (budget {_budget(ck, sec.step):.0f} s)", flush=True)
    try:
        if os.environ.get(FAULT_ENV) == sec.step.key:
            raise StepError(f"injected fault ({FAULT_ENV}={sec.step.key})")
        sec.step.run(ck, sec)
        sec.status = "ok"
    except KeyboardInterrupt:  # the check is being stopped: say so in the report, then stop
        sec.status, sec.error = "INTERRUPTED", "the check was stopped (SIGINT or SIGTERM) during this step"
        sec.seconds = time.monotonic() - t0
        raise
    except StepError as e:
        sec.status, sec.error = "FAILED", str(e)
    except Exception as e:  # noqa: BLE001 - a bug in one step must not cost the others
        sec.status, sec.error = "FAILED", f"{type(e).__name__}: {e}"
        sec.add("", "```", traceback.format_exc().strip(), "```")
    sec.seconds = time.monotonic() - t0
    sec.gpu = ck.sampler.stats(wall0, time.time())
    if sec.status != "ok":
        tail = _last_output(ck, sec.step.key)
        if tail:
            sec.add("", "Last lines of its output:", "", "```", tail, "```")
    print(f"[gpu-check]   {sec.status} in {sec.seconds:.0f} s{': ' + sec.error if sec.error else ''}", flush=True)


def _last_output(ck: Check, key: str, n: int = 25) -> str:
    logs = sorted(ck.work.glob(f"{key}-*.log"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return "\n".join(logs[-1].read_text(errors="replace").splitlines()[-n:]) if logs else ""


def write_samples(ck: Check, started_wall: float) -> None:
    with (ck.out / "gpu_samples.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["seconds", "utilization_gpu_percent", "memory_used_mib"])
        w.writerows((f"{t - started_wall:.1f}", u, m) for t, u, m in ck.sampler.samples)


def main(argv: list[str] | None = None, doc: str | None = None) -> int:
    p = Parser(doc)
    p.add_argument("--out", required=True, help="folder for gpu_report.md, gpu_check.log and gpu_samples.csv")
    p.add_argument("--data-dir", help="CIFAR-10 JPEGs as DIR/train/<class>/*.jpg and DIR/test/..., as "
                                      "scripts/cifar10_to_folder.py writes them; without it (developing): "
                                      ".gpukit/cifar10-jpeg-*.tar.gz extracted to a temporary folder")
    p.add_argument("--dry-run", action="store_true", help="CPU, digits and synthetic images, one or two steps each")
    p.add_argument("--only", help=f"comma-separated steps to run (of {', '.join(s.key for s in STEPS)})")
    p.add_argument("--keep", action="store_true", help="keep the temporary work folder (experiments, results, logs)")
    argv = sys.argv[1:] if argv is None else argv
    args = p.parse_args(argv)
    only = set(args.only.split(",")) if args.only else {s.key for s in STEPS}
    unknown = only - {s.key for s in STEPS}
    if unknown:
        p.error(f"--only: unknown step(s) {', '.join(sorted(unknown))}")
    started, started_wall = time.monotonic(), time.time()
    ck = Check(args)
    head = header(ck, argv)
    sections = [Section(s) for s in STEPS if s.key in only]
    try:
        with interrupts_raise():  # Ctrl-C or SIGTERM (a device's time limit): the report is still written
            for sec in sections:
                write_report(ck, head, sections, started, done=False)  # even SIGKILL leaves a report
                run_step(ck, sec)
    except KeyboardInterrupt as e:
        print(f"[gpu-check] stopped; report: {ck.out / 'gpu_report.md'}", flush=True)
        return getattr(e, "exit_code", 130)
    finally:
        ck.sampler.stop()
        write_report(ck, head, sections, started, done=True)
        write_samples(ck, started_wall)
        ck.log.close()
        if not args.keep:
            shutil.rmtree(ck.work, ignore_errors=True)
    failed = [s.step.key for s in sections if s.status != "ok"]
    print(f"[gpu-check] report: {ck.out / 'gpu_report.md'}; "
          + (f"FAILED: {', '.join(failed)}" if failed else "all steps passed"), flush=True)
    return 1 if failed else 0


def _text(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _version(package: str) -> str:
    """From the package's metadata, else its __version__ (a copied site folder may lack metadata)."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        pass
    try:
        return str(__import__(package).__version__)
    except Exception:  # noqa: BLE001 - absent or broken: the steps that need it will say how
        return "missing"


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""

