#!/usr/bin/env python
"""The project's GPU check: six measurements on one GPU, written into one Markdown report.

Steps (each one independent: a failing step is recorded with its error and the next one
still runs; the exit status is 1 when any step failed, and the report says which):
  bench     scripts/bench_train.py: shared vs unshared images/s, the engine vs a plain DataLoader loop
  accuracy  time to 91% test accuracy on CIFAR-10 with this project's engine (gpu_measure.py accuracy)
  packing   images/s per GPU with 1, 2, 4 and 8 trainings on one GPU (gpu_measure.py packing)
  search    a short real search with 4 trials per GPU (scripts/search.py, search_spaces/gpu-check.yaml)
  compile   scripts/train_final.py with torch.compile off, then on
  imagenet  FLOPs of resnet50 / sharesnet50, and a 224 px training on synthetic data (gpu_measure.py imagenet)
Every step has a time budget, 7.5 minutes in all on an H200; a step past its budget is
stopped (SIGTERM, then SIGKILL 10 s later) and recorded as failed. Utilisation and memory of
the GPU are sampled with nvidia-smi throughout.

Writes into --out: gpu_report.md (everything measured), gpu_check.log (each command's
output, its last 300 lines), gpu_samples.csv (the nvidia-smi samples).

Examples:
  bash scripts/gpu_check.sh --out gpu-check --data-dir /tmp/cifar10   # GPU machine; the folder: cifar10_to_folder.py
  bash scripts/gpu_check.sh --dry-run --out /tmp/gpu-check          # CPU, tiny sizes: checks the code only
  python scripts/gpu_check.py --only packing,imagenet --out /tmp/gpu-check
"""
import sys

from nas.bench.gpu_check import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], __doc__))
