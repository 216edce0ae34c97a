"""Exact cost accounting: parameters (each once), FLOPs (each use), checkpoint bytes.

FLOPs are fvcore's: one multiply-add counts as ONE flop (so they are MACs). A shared
conv is counted at every use, because every use costs compute.
"""
from __future__ import annotations

import io
import logging
import warnings

import torch
from torch import nn

FLOP_UNIT = "fvcore FLOPs (1 multiply-add = 1 flop)"


def count_params(model: nn.Module) -> int:
    """Trainable parameters, each Parameter counted once however often it is used."""
    return sum(p.numel() for p in model.parameters())  # parameters() de-duplicates


def count_flops(model: nn.Module, input_size: tuple[int, int, int]) -> int:
    """fvcore FLOPs at batch 1 for an input of (C, H, W); 1 multiply-add = 1 flop."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # fvcore's use of torch.jit
        from fvcore.nn import FlopCountAnalysis

    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters())
        x = torch.zeros(1, *input_size, dtype=param.dtype, device=param.device)
        analysis = FlopCountAnalysis(model, x)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        # fvcore logs every op it skips (pads, adds); they are not multiply-adds.
        logging.getLogger("fvcore.nn.jit_analysis").setLevel(logging.ERROR)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # fvcore's use of torch.jit
            return int(analysis.total())
    finally:
        model.train(was_training)


def checkpoint_bytes(model: nn.Module) -> int:
    """Size of `torch.save(model.state_dict())`: shared tensors are stored once."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getbuffer().nbytes
