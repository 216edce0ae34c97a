"""Budgets checked at load against the cheapest architecture of the space.

A budget below every architecture of the space used to run anyway: every candidate was
rejected, the sampler resampled for ever and the search "finished" with an empty front.
The space's smallest architecture costs one model build to count, so such a budget is
refused with the space file, naming the cost it would have to allow.
"""
from __future__ import annotations

from nas.space.config import SearchSpace
from nas.space.problems import Problems, SpaceError
from sharesnet import build_model, count_flops, count_params

UNITS = {"params": "parameters", "flops": "FLOPs (fvcore, 1 MAC = 1 flop)"}


def check_budgets(space: SearchSpace) -> None:
    """SpaceError when max_params or max_flops is below the space's smallest architecture.

    FLOPs need the input size; an image folder at its images' own size has none until its data
    is read, so nas.space.datacheck calls this again once it has resolved the size."""
    limits = {"params": space.max_params, "flops": space.max_flops}
    if all(v is None for v in limits.values()):
        return
    from nas.space.codec import smallest  # sampling imports nas.space.config, which calls this

    spec = smallest(space)
    model = build_model(spec)
    have = {"params": count_params(model)}
    try:
        have["flops"] = count_flops(model, space.data.input_size) if limits["flops"] is not None else None
    except SpaceError:  # image size not known yet: checked again after the data is read
        have["flops"] = None
    shape = (f"depth {'-'.join(str(s.depth) for s in spec.stages)}, width "
             f"{'-'.join(str(s.width) for s in spec.stages)}, {spec.sharing_summary()}")
    pb = Problems(space.source)
    for name, limit in limits.items():
        if limit is not None and have[name] is not None and have[name] > limit:
            pb.add(f"constraints.max_{name}",
                   f"{limit:,.0f} is below the smallest architecture of this space, which has {have[name]:,} "
                   f"{UNITS[name]} ({shape}), so every candidate would be rejected; raise it to at least {have[name]:,}")
    pb.raise_if_any()
