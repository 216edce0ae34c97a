"""Named presets: `create_model(name, **overrides)` and `list_models()`, torchvision-style.

Each preset is a spec builder; overrides replace ArchSpec fields (e.g. num_classes=100).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from sharesnet.hints import maybe_did_you_mean
from sharesnet.model import ShaResNet, build_model
from sharesnet.rules import paper_sharing
from sharesnet.spec import ArchSpec, SpecError, StageSpec

_REGISTRY: dict[str, Callable[[], ArchSpec]] = {}


def register(name: str, builder: Callable[[], ArchSpec]) -> None:
    if name in _REGISTRY:
        raise KeyError(f"model '{name}' is already registered")
    _REGISTRY[name] = builder


def list_models() -> list[str]:
    return list(_REGISTRY)


def get_spec(name: str, **overrides) -> ArchSpec:
    """The spec of a preset, with ArchSpec fields overridden."""
    if name not in _REGISTRY:
        raise SpecError(f"unknown model '{name}'{maybe_did_you_mean(name, _REGISTRY)} "
                        f"(see sharesnet.list_models())")
    spec = _REGISTRY[name]()
    try:
        return dataclasses.replace(spec, **overrides) if overrides else spec
    except TypeError as e:
        raise SpecError(f"{name}: bad override: {e}") from None


def create_model(name: str, **overrides) -> ShaResNet:
    return build_model(get_spec(name, **overrides))


def _stages(depths, widths, strides) -> tuple[StageSpec, ...]:
    return tuple(StageSpec(d, w, s) for d, w, s in zip(depths, widths, strides))


def cifar_resnet(depth: int) -> ArchSpec:
    """He et al. 2016 CIFAR ResNet-(6n+2): basic post-act blocks, 16/32/64, shortcut A."""
    n = (depth - 2) // 6
    return ArchSpec(_stages([n] * 3, [16, 32, 64], [1, 2, 2]), block="basic", shortcut="A",
                    name=f"cifar_resnet{depth}")


def preact_resnet(depth: int) -> ArchSpec:
    """He et al. 2016b pre-act bottleneck ResNet-(9n+2) for CIFAR: 64/128/256 outputs."""
    n = (depth - 2) // 9
    return ArchSpec(_stages([n] * 3, [64, 128, 256], [1, 2, 2]), block="bottleneck", preact=True,
                    shortcut="B", name=f"preact_resnet{depth}")


def wide_resnet(depth: int, k: int) -> ArchSpec:
    """Zagoruyko & Komodakis 2016 WRN-depth-k: pre-act basic, 16k/32k/64k, 1x1 projections."""
    n = (depth - 4) // 6
    return ArchSpec(_stages([n] * 3, [16 * k, 32 * k, 64 * k], [1, 2, 2]), block="basic",
                    preact=True, shortcut="B", name=f"wrn_{depth}_{k}")


def imagenet_resnet(depth: int) -> ArchSpec:
    """torchvision's ResNet-18..152 (v1.5: stride on the bottleneck's 3x3)."""
    depths = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3],
              152: [3, 8, 36, 3]}[depth]
    basic = depth < 50
    widths = [64, 128, 256, 512] if basic else [256, 512, 1024, 2048]
    return ArchSpec(_stages(depths, widths, [1, 2, 2, 2]), block="basic" if basic else "bottleneck",
                    stem="imagenet", stem_width=64, shortcut="B", num_classes=1000,
                    name=f"resnet{depth}")


def _shared(name: str, base: Callable[[], ArchSpec]) -> Callable[[], ArchSpec]:
    return lambda: dataclasses.replace(paper_sharing(base()), name=name)


for _d in (20, 32, 44, 56, 110, 1202):
    register(f"cifar_resnet{_d}", lambda d=_d: cifar_resnet(d))
for _d in (164, 1001):
    register(f"preact_resnet{_d}", lambda d=_d: preact_resnet(d))
for _d, _k in ((28, 10), (40, 4), (16, 8)):
    register(f"wrn_{_d}_{_k}", lambda d=_d, k=_k: wide_resnet(d, k))
for _d in (18, 34, 50, 101, 152):
    register(f"resnet{_d}", lambda d=_d: imagenet_resnet(d))
register("sharesnet164", _shared("sharesnet164", lambda: preact_resnet(164)))
register("sha_wrn_28_10", _shared("sha_wrn_28_10", lambda: wide_resnet(28, 10)))
register("sha_wrn_40_4", _shared("sha_wrn_40_4", lambda: wide_resnet(40, 4)))
for _d in (34, 50, 101, 152):
    register(f"sharesnet{_d}", _shared(f"sharesnet{_d}", lambda d=_d: imagenet_resnet(d)))
