"""Every script answers --help with examples, and the smoke modes CI can afford run."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args, timeout=300):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)


@pytest.mark.parametrize("script", ["search.py", "export_pareto.py", "train_final.py", "bench_train.py"])
def test_help_has_examples(script):
    out = _run(ROOT / "scripts" / script, "--help")
    assert out.returncode == 0 and "Examples:" in out.stdout


def test_bench_smoke_prints_both_ratios():
    out = _run(ROOT / "scripts/bench_train.py", "--smoke")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "shared / unshared images/s:" in out.stdout and "engine / reference images/s:" in out.stdout


def test_train_final_smoke_on_a_preset(tmp_path):
    out = _run(ROOT / "scripts/train_final.py", "--preset", "cifar_resnet20", "--smoke", "--out", tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "| cifar_resnet20 |" in out.stdout and (tmp_path / "final_results.csv").is_file()


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (ROOT / "README.md").read_text()
    command = 'pip install -e ".[test]" && python -m pytest -q'
    assert command in readme and command in (ROOT / ".ci/run").read_text()
