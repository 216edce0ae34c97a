"""The GPU check (scripts/gpu_check.sh) in its CPU dry run, so that it cannot rot between GPU loans."""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nas.bench.gpu_check import Check, Section, Step, StepError
from nas.bench.gpu_measure import GpuSampler, parse_sample

ROOT = Path(__file__).resolve().parents[1]

# What nvidia-smi prints, for the calls the check makes: -L, the header query, the -lms sampler.
FAKE_NVIDIA_SMI = """#!/usr/bin/env bash
case "$*" in
  -L) echo "GPU 0: Fake GPU (UUID: GPU-0)";;
  *-lms*) while true; do echo "0, 42, 1000"; echo "1, 99, 7"; echo "0, [N/A], 1000"; sleep 0.1; done;;
  *) echo "999.99, 1024 MiB";;
esac
"""


def _check(out: Path, *args: str, env: dict | None = None, timeout: int = 900):
    env = {**os.environ, "PYTHON": sys.executable, **(env or {})}
    return subprocess.run(["bash", str(ROOT / "scripts/gpu_check.sh"), "--dry-run", "--out", str(out), *args],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout)


@pytest.fixture
def fake_nvidia_smi(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text(FAKE_NVIDIA_SMI)
    (bin_dir / "nvidia-smi").chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


@pytest.mark.parametrize("command", [["scripts/gpu_check.py"], ["-m", "nas.bench.gpu_measure"]])
def test_help_has_examples(command):
    out = subprocess.run([sys.executable, *command, "--help"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and "Examples:" in out.stdout


def test_dry_run_runs_every_step_into_one_report(tmp_path):
    out = _check(tmp_path / "out")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["gpu_check.log", "gpu_report.md", "gpu_samples.csv"]  # the device returns at most 8 files
    report = (tmp_path / "out/gpu_report.md").read_text()
    assert "**all steps passed**" in report and "**dry run**" in report
    for title in ("1. Engine benchmark", "2. Time to 91%", "3. Packing", "4. A short search", "5. Final retraining",
                  "6. ImageNet presets"):
        assert f"## {title}" in report
    # each step's own figures, and the exact commands
    for figure in ("shared / unshared images/s:", "engine / reference images/s:", "| epoch | test acc |", "| 1 | ", "**Slot fill", "cpu.",
                   "| torch.compile |", "| on |", "| sharesnet50 |", "`$ ", "scripts/search.py --space"):
        assert figure in report, figure
    assert re.search(r"Journal: \d+ rows: .*\d+ ok.*; devices: .*\d+ cpu", report)


def test_a_failing_step_is_reported_and_the_next_one_still_runs(tmp_path, fake_nvidia_smi):
    env = {**fake_nvidia_smi, "SHARESNET_GPU_CHECK_FAULT": "accuracy"}
    out = _check(tmp_path / "out", "--only", "accuracy,imagenet", env=env)
    assert out.returncode == 1
    report = (tmp_path / "out/gpu_report.md").read_text()
    assert "**1 step(s) failed: accuracy**" in report
    assert "injected fault (SHARESNET_GPU_CHECK_FAULT=accuracy)" in report
    assert "| 6. ImageNet presets at 224 px: FLOPs and training | ok |" in report
    # nvidia-smi's answers reach the header and every step's utilisation (GPU 0 only, N/A skipped)
    assert "Fake GPU" in report and "999.99, 1024 MiB" in report
    assert "42% mean, 42% max, 1,000 MiB max" in report
    assert "FAILED: accuracy" in out.stdout


def test_an_interpreter_without_torch_gets_one_line():
    res = subprocess.run(["bash", "scripts/gpu_check.sh", "--dry-run", "--out", "/nonexistent"], capture_output=True,
                         text=True, cwd=ROOT, env={**os.environ, "PYTHON": "false"})
    assert res.returncode == 2 and res.stderr == ("error: false cannot import torch; activate the environment that "
                                                  "has it, or set PYTHON=/path/to/python\n")


def test_nvidia_smi_samples_are_parsed_for_one_gpu():
    assert parse_sample("0, 87, 12034\n") == (87.0, 12034.0)
    assert parse_sample("1, 87, 12034", index="0") is None
    assert parse_sample("0, [N/A], 12034") is None and parse_sample("garbage") is None
    sampler = GpuSampler()
    sampler.samples = [(10.0, 50.0, 100.0), (11.0, 100.0, 300.0), (20.0, 0.0, 0.0)]
    assert sampler.stats(9.0, 12.0) == {"util_mean": 75, "util_max": 100, "memory_max_mib": 300, "samples": 2}
    assert sampler.stats(30.0, 40.0) is None


def test_a_command_past_its_budget_is_stopped_and_fails_its_step(tmp_path):
    ck = Check(argparse.Namespace(dry_run=True, out=str(tmp_path), data_dir=None))
    try:
        sec = Section(Step("slow", "a slow step", 1, lambda ck, sec: None))
        ck.deadline = time.monotonic() + 1
        ran = ck.run(sec, ["bash", "-c", "sleep 60"])
        assert ran.timed_out and ran.seconds < 10
        with pytest.raises(StepError, match="ran past the step's budget"):
            ck.check(ran, "sleep")
        assert "`$ bash -c 'sleep 60'`" in sec.lines
    finally:
        ck.sampler.stop()
        ck.log.close()
        shutil.rmtree(ck.work)
