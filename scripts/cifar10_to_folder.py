#!/usr/bin/env python
"""Write torchvision's CIFAR-10 as the JPEG image folder that search_spaces/cifar10-cpu.yaml and
docs/results/cifar10-cpu use: OUT/train/<class>/NNNN.jpg (50,000) and OUT/test/<class>/NNNN.jpg
(10,000), JPEG quality 75 with 4:2:0 chroma subsampling, each class numbered 0000, 0001, ... in
the order torchvision's batches hold it. It reads the python-version archive that torchvision
downloads (cifar-10-batches-py/) and never downloads anything itself. JPEG is lossy: it prints
how far the pixels moved from the originals (mean absolute change and PSNR).

Examples:
  python -c "from torchvision.datasets import CIFAR10; CIFAR10('data/cifar10', download=True)"
  python scripts/cifar10_to_folder.py --data-dir data/cifar10 --out /tmp/cifar10
  python scripts/search.py --space search_spaces/cifar10-cpu.yaml      # its data_dir is /tmp/cifar10
"""
import sys

from nas.cli.cifar10_folder import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], __doc__))
