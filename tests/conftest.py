import random

import pytest
import torch

from sharesnet import masks as M
from sharesnet.spec import ArchSpec, StageSpec

torch.set_num_threads(min(2, torch.get_num_threads()))


def tiny_spec(block="basic", preact=False, shortcut="B", depths=(3, 2), stem="cifar", **kw) -> ArchSpec:
    """A small spec for fast tests: two stages, 8 and 16 (or 16 and 32) channels."""
    widths = (8, 16) if block == "basic" else (16, 32)
    stages = tuple(StageSpec(d, w, 1 if i == 0 else 2) for i, (d, w) in enumerate(zip(depths, widths)))
    return ArchSpec(stages, block=block, preact=preact, stem=stem, stem_width=8, shortcut=shortcut,
                    num_classes=5, **kw)


def random_valid_masks(spec: ArchSpec, rng: random.Random) -> ArchSpec:
    """Random sharing patterns that respect shape rules: block 0 may differ in shape, so
    it only joins a group when its weight shape equals the rest of the stage's."""
    masks = {}
    for s, st in enumerate(spec.stages):
        for p in range(len(spec.positions)):
            kind = rng.choice(["none", "stage", "cycle", "sequence", "ranges", "random"])
            d = st.depth
            mask = {"none": M.none(d), "stage": M.stage(d), "cycle": M.cycle(d, rng.randint(1, 3)),
                    "sequence": M.sequence(d, rng.randint(1, 3)),
                    "ranges": M.ranges(d, rng.sample(range(1, d), rng.randint(0, d - 1)) if d > 1 else []),
                    "random": tuple(rng.randint(0, 2) for _ in range(d))}[kind]
            if spec.conv_shape(s, 0, p) != spec.conv_shape(s, min(1, d - 1), p):
                mask = (max(mask) + 1,) + tuple(mask[1:])  # block 0 keeps its own weight
            masks[(s, p)] = mask
    return spec.with_masks(masks)


@pytest.fixture(scope="module")
def one_thread():
    """Tiny 8x8 nets gain nothing from two threads and lose a lot when a core is busy."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def rng():
    return random.Random(0)


@pytest.fixture
def ray_session():
    """A Ray started by this test alone: one left running by an earlier test would keep its
    workers' environment (a fault injected through the environment would never reach them)."""
    import ray

    ray.shutdown()
    yield
    ray.shutdown()
