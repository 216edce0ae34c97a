"""ShaResNet: ResNets whose residual blocks share conv weights, built from a typed spec."""
from sharesnet.cost import FLOP_UNIT, checkpoint_bytes, count_flops, count_params
from sharesnet.model import ShaResNet, build_model
from sharesnet.registry import create_model, get_spec, list_models
from sharesnet.spec import ArchSpec, SpecError, StageSpec

__all__ = [
    "ArchSpec", "StageSpec", "SpecError", "ShaResNet", "build_model", "create_model",
    "get_spec", "list_models", "count_params", "count_flops", "checkpoint_bytes", "FLOP_UNIT",
]
