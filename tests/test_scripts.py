"""Every script answers --help with examples, and the smoke modes CI can afford run."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args, timeout=300):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)


@pytest.mark.parametrize("script", ["search.py", "export_pareto.py", "train_final.py", "bench_train.py",
                                    "bench_inherit.py", "bench_sampler.py", "fidelity.py", "propose.py",
                                    "cifar10_to_folder.py"])
def test_help_has_examples(script):
    out = _run(ROOT / "scripts" / script, "--help")
    assert out.returncode == 0 and "Examples:" in out.stdout


# Run as a user runs it, then say whether torch was imported: --help must answer at once.
_HELP_WITHOUT_TORCH = """
import runpy, sys
sys.argv = [sys.argv[1], "--help"]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit:
    pass
print("torch imported:", "torch" in sys.modules)
"""


@pytest.mark.parametrize("script", ["search.py", "export_pareto.py", "train_final.py", "fidelity.py", "propose.py",
                                    "bench_inherit.py", "bench_sampler.py", "cifar10_to_folder.py", "gpu_check.py"])
def test_help_does_not_wait_for_torch(script):
    out = _run("-c", _HELP_WITHOUT_TORCH, ROOT / "scripts" / script)
    assert out.returncode == 0 and "usage:" in out.stdout, out.stderr[-2000:]
    assert "torch imported: False" in out.stdout


# bench_train.py --smoke runs as step 1 of the GPU check's dry run (tests/test_gpu_check.py).


def test_train_final_smoke_on_a_preset(tmp_path):
    out = _run(ROOT / "scripts/train_final.py", "--preset", "cifar_resnet20", "--smoke", "--out", tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "| cifar_resnet20 |" in out.stdout and (tmp_path / "final_results.csv").is_file()


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (ROOT / "README.md").read_text()
    command = 'pip install -e ".[test]" && python -m pytest -q'
    assert command in readme and command in (ROOT / ".ci/run").read_text()


def test_shipped_spaces_table_matches_the_files():
    # The docs once said "16 trainings of 4 epochs" for a space that ran 32 of 15.
    import re

    import yaml

    table = (ROOT / "search_spaces/README.md").read_text()
    for path in sorted((ROOT / "search_spaces").glob("*.yaml")):
        raw = yaml.safe_load(path.read_text())
        row = next((line for line in table.splitlines() if line.startswith(f"| `{path.name}` |")), None)
        assert row, f"{path.name} is missing from the shipped-spaces table"
        m = re.search(r"(\d+) trainings of (\d+) epochs", row)
        epochs = raw["train"].get("stop_after") or raw["train"]["epochs"]  # a prefix trial trains the first N
        assert m and (int(m[1]), int(m[2])) == (raw["trials"], epochs), row


def test_docs_name_no_path_of_one_machine():
    for doc in ["README.md", "search_spaces/README.md"] + [f"scripts/{p.name}" for p in (ROOT / "scripts").glob("*.py")]:
        assert "/work/" not in (ROOT / doc).read_text(), f"{doc} refers to a path of one machine"
