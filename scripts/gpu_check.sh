#!/usr/bin/env bash
# The project's GPU check: six measurements on one GPU, one Markdown report (see scripts/gpu_check.py).
#
# On a machine with a GPU, from the project root (README, "GPU check"):
#   bash scripts/gpu_check.sh --out gpu-check --data-dir /tmp/cifar10
# (/tmp/cifar10: the folder scripts/cifar10_to_folder.py writes; the development kit: docs/development.md)
# Here, on the CPU, tiny sizes (tests/test_gpu_check.py runs this, so the check cannot rot):
#   bash scripts/gpu_check.sh --dry-run --out /tmp/gpu-check
#
# PYTHON picks the interpreter (default: python3, the GPU machine's, or the active venv's).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The project's packages import from here, installed or not (a GPU machine may run it from a copy).
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
py="${PYTHON:-python3}"
# Without torch every step would fail alike: say so once, with the fix.
if ! "$py" -c "import torch" 2>/dev/null; then
  echo "error: $py cannot import torch; activate the environment that has it, or set PYTHON=/path/to/python" >&2
  exit 2
fi
exec "$py" scripts/gpu_check.py "$@"
