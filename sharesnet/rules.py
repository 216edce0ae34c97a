"""The paper's sharing rule (Boulch 2017, from the author's code), for any base spec.

Only 3x3 convs are shared, one weight per stage; BatchNorm and 1x1 convs stay per
block. The shared 3x3 is conv2 in both block types (in basic blocks conv1 carries
the stage's stride and channel change, and the author shares only the second).
- CIFAR stems: the first block of every stage keeps its own weights.
- ImageNet stems, basic blocks (ResNet-34): every block of a stage shares, the first too.
- ImageNet stems, bottlenecks: the stride-1 blocks share, so a strided first block
  keeps its own while stage 1's first block (stride 1) shares.
"""
from __future__ import annotations

from sharesnet import masks as M
from sharesnet.spec import ArchSpec

SHARED_POSITION = 1  # conv2: the 3x3 conv of both basic and bottleneck blocks


def paper_sharing(spec: ArchSpec) -> ArchSpec:
    """Apply ShaResNet's rule to an (unshared) spec; other masks are reset to none."""
    base = spec.unshared()
    masks = {}
    for s, st in enumerate(base.stages):
        if spec.stem == "cifar":
            skip_first = True
        elif spec.block == "basic":
            skip_first = False
        else:
            skip_first = st.stride != 1
        masks[(s, SHARED_POSITION)] = M.stage(st.depth, skip_first=skip_first)
    return base.with_masks(masks)
