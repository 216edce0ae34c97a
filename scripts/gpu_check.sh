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
exec "${PYTHON:-python3}" scripts/gpu_check.py "$@"
