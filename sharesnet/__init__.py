"""ShaResNet: ResNets whose residual blocks share conv weights, built from a typed spec.

The names below load on first use (sharesnet/lazy.py says why)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sharesnet import lazy

_WHERE = {
    "FLOP_UNIT": "cost", "checkpoint_bytes": "cost", "count_flops": "cost", "count_params": "cost",
    "ShaResNet": "model", "build_model": "model",
    "create_model": "registry", "get_spec": "registry", "list_models": "registry",
    "ArchSpec": "spec", "SpecError": "spec", "StageSpec": "spec",
}
__all__ = list(_WHERE)
__getattr__ = lazy.exports(__name__, _WHERE)

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and editors
    from sharesnet.cost import FLOP_UNIT, checkpoint_bytes, count_flops, count_params  # noqa: F401
    from sharesnet.model import ShaResNet, build_model  # noqa: F401
    from sharesnet.registry import create_model, get_spec, list_models  # noqa: F401
    from sharesnet.spec import ArchSpec, SpecError, StageSpec  # noqa: F401
