"""check_data: load a search's data once, before any trial, and fix the size FLOPs are counted at.

Loading once in the driver turns a missing dataset into one clear error instead of a
failure in every trial, and builds an image folder's decode cache once, not per worker.
It is also where `data.image_size` gets its value: an image folder's side is known only
once its images are read, and every candidate is costed at it.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

from nas.space.budget import check_budgets
from nas.space.config import SearchSpace
from nas.space.problems import SpaceError
from sharesnet.data import DataBundle, load_data
from sharesnet.data.errors import ImageSizeError
from sharesnet.data.imagefolder import size_sample


def check_data(space: SearchSpace, log: Callable[[str], None]) -> SearchSpace:
    """The space with data.image_size set to the side trained on; SpaceError when it cannot be."""
    cfg, key = space.data, f"{space.source}: data.image_size"
    try:
        data = load_data(**cfg.load_kwargs())
    except ImageSizeError as e:
        fix = f"set data.image_size: {e.side} (or null to use the images' size)" if e.side else \
            "set data.image_size: null (the images' size)"
        raise SpaceError(f"{key}: {e.problem}; {fix}") from None
    streamed = data.train.kind == "stream"
    if streamed and cfg.image_size is None:
        raise SpaceError(f"{key}: {_needs_crop_side(Path(cfg.data_dir))}")
    h, w = data.image_size
    if h != w:  # only an in-memory folder of non-square images gets here
        raise SpaceError(f"{key}: the images in {Path(cfg.data_dir) / 'train'} are {h}x{w}; FLOPs are "
                         f"counted on square inputs: crop or resize them to one square size")
    # Absolute, because Ray runs each trial in its own folder, where a relative data_dir points nowhere.
    where = str(Path(cfg.data_dir).resolve()) if cfg.data_dir else None
    resolved = dataclasses.replace(space, data=dataclasses.replace(cfg, image_size=h, data_dir=where))
    _check_fits(resolved, data)
    check_budgets(resolved)  # an image folder's FLOPs are known only now
    shape = f"{data.in_channels}x{h}x{w}"
    log(f"[search] data: {data.name}, {len(data.train)} train / {len(data.val)} validation images, "
        f"{f'streamed as {shape} crops' if streamed else f'{shape} in memory'} (split seed "
        f"{data.split_seed}); the test split is not used by the search")
    return resolved


def _needs_crop_side(root: Path) -> str:
    """Why the folder streams, and a crop side that keeps most of each image: the median shorter side."""
    sizes, side = size_sample(root)
    why = f"have different sizes (e.g. {', '.join(f'{h}x{w}' for h, w in sizes[:3])})" if len(sizes) > 1 else \
        "do not fit in memory (more pixels than max_bytes)"
    return (f"the images in {root / 'train'} {why}, so they stream from disk as square crops and need a crop "
            f"side; set data.image_size, e.g. data.image_size: {side} (the median shorter side)")


def _check_fits(space: SearchSpace, data: DataBundle) -> None:
    """Channels and classes follow the data unless base.overrides says otherwise: say so once, not per trial."""
    base = space.base
    if (base.in_channels, base.num_classes) != (data.in_channels, data.num_classes):
        raise SpaceError(f"{space.source}: base: the model takes {base.in_channels} channels and "
                         f"{base.num_classes} classes but the {data.name} data has {data.in_channels} and "
                         f"{data.num_classes}; drop in_channels/num_classes from base.overrides (they "
                         f"follow from the data) or make them match")
