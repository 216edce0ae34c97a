"""Engine: the model, optimiser and data generator of one run, and its train/eval steps.

Losses and correct counts accumulate on the device; the host reads them only every
CHECK_EVERY steps and at epoch end, so CUDA never syncs per step.
"""
from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from sharesnet.data import Augment, DataBundle, Split
from sharesnet.model import build_model
from sharesnet.spec import ArchSpec
from sharesnet.train.evaluate import evaluate_model
from sharesnet.train.recipe import Recipe
from sharesnet.train.result import DivergedError
from sharesnet.train.schedule import lr_factor

CHECK_EVERY = 50  # steps between host-side non-finite checks
# Memory format: channels_last on CUDA (bf16 tensor cores want NHWC) and on CPU too: measured
# on 2 Xeon cores, torch 2.14, cifar_resnet20 train steps at batch 128, it beat NCHW at both
# sizes we use: 8x8 (1 thread 31 vs 36 ms, 2 threads 18 vs 23 ms) and 32x32 (1 thread 355 vs
# 424 ms, 2 threads 190 vs 226 ms). So no per-size switch is needed.
CHANNELS_LAST = True
# Except on the CPU for nets with a conv narrower than 8 input channels: torch 2.14.1's oneDNN
# corrupts the heap (the process dies: "free(): invalid size", SIGSEGV) in the backward of a
# channels_last 1x1 stride-2 conv with 4-6 input channels on one thread, when batch sizes vary
# (measured: 4->8, 5->10, 6->12 at 8x8 and 4->8 at 16x16; 8->16 and wider, and 2 threads, are
# fine). Only tiny nets (digits tests, width_mult 0.5 of a width-8 base) are that narrow, and
# their speed does not matter.
MIN_CPU_CHANNELS_LAST_WIDTH = 8


@dataclass
class Engine:
    """Mutable training state; everything here is saved in a checkpoint."""
    model: nn.Module  # the plain module: its state_dict names are the stable ones
    forward: nn.Module  # the module to call (torch.compile'd on CUDA when asked)
    optimizer: torch.optim.Optimizer
    criterion: nn.Module
    generator: torch.Generator  # data order and augmentation
    device: torch.device
    channels_last: bool
    bf16: bool = False  # bf16 autocast (weights and optimiser stay fp32)
    step: int = 0  # global optimiser step; the lr schedule is a function of it

    def autocast(self):
        if self.bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()


def pick_device(device: str | torch.device | None) -> torch.device:
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def make_engine(spec: ArchSpec, recipe: Recipe, data: DataBundle, device: torch.device) -> Engine:
    """Seeded model, SGD without weight decay on norms and biases, and a data generator."""
    _check_fits(spec, data)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(recipe.seed)  # same spec + seed -> same initial weights
    channels_last = use_channels_last(spec, device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = build_model(spec).to(device=device, memory_format=fmt)
    forward = torch.compile(model) if (recipe.compile and device.type == "cuda") else model
    gen = torch.Generator(device=device).manual_seed(recipe.seed)
    criterion = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    return Engine(model, forward, make_optimizer(model, recipe), criterion, gen, device, channels_last,
                  bf16=use_bf16(recipe.precision, device))


def use_channels_last(spec: ArchSpec, device: torch.device) -> bool:
    """channels_last, unless on the CPU a conv would take fewer than 8 input channels (see above)."""
    narrowest = min(spec.stem_width, *(stage.width for stage in spec.stages))
    return CHANNELS_LAST and (device.type != "cpu" or narrowest >= MIN_CPU_CHANNELS_LAST_WIDTH)


def use_bf16(precision: str, device: torch.device) -> bool:
    """bf16 autocast where the hardware does bf16 natively. Measured on this project's 2-core
    Xeon (AMX), cifar_resnet20 at batch 128, 32x32: 1214 vs 675 img/s for fp32 (1.8x);
    cifar_resnet56: 458 vs 256 img/s. Without native bf16, CPU autocast is slower than fp32."""
    if precision != "auto":
        return precision == "bf16"
    return device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16())


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " amx_bf16" in flags or " avx512_bf16" in flags


def make_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.SGD:
    """Weight decay only on weights with ndim > 1: BatchNorm scales, biases and soft-sharing
    coefficients (1-D; undecayed, as Savarese & Maire 2019 prescribe) are not decayed."""
    params = list(model.parameters())  # de-duplicated: a shared conv appears once
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": recipe.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.SGD(groups, lr=recipe.effective_lr, momentum=recipe.momentum,
                           nesterov=recipe.nesterov)


def augment_of(recipe: Recipe, data: DataBundle) -> Augment:
    """The dataset's default augmentation with the recipe's non-None overrides."""
    merged = dict(data.augment)
    for key in ("crop_padding", "flip", "cutout"):
        if getattr(recipe, key) is not None:
            merged[key] = getattr(recipe, key)
    return Augment.from_mapping(merged)


def train_step(eng: Engine, x: torch.Tensor, y: torch.Tensor, lr: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One SGD step at `lr`; returns (summed loss, correct count) as device tensors."""
    for group in eng.optimizer.param_groups:
        group["lr"] = lr
    with eng.autocast():
        out = eng.forward(x)
        loss = eng.criterion(out, y)
    eng.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    eng.optimizer.step()
    eng.step += 1
    return loss.detach().float() * len(y), (out.detach().argmax(1) == y).sum()


def train_epoch(eng: Engine, split: Split, recipe: Recipe, data: DataBundle, epoch: int,
                steps_per_epoch: int) -> tuple[float, float, float]:
    """One pass of SGD; returns (mean loss, accuracy, last lr). Raises DivergedError."""
    eng.model.train()
    loss_sum = torch.zeros((), device=eng.device)
    correct = torch.zeros((), device=eng.device, dtype=torch.long)
    seen, lr = 0, recipe.effective_lr
    it = split.iterate(recipe.batch_size, mean=data.mean, std=data.std, generator=eng.generator,
                       augment=augment_of(recipe, data), drop_last=True, channels_last=eng.channels_last,
                       device=eng.device)
    for i, (x, y) in enumerate(it, 1):
        lr = recipe.effective_lr * lr_factor(recipe, eng.step, steps_per_epoch)
        batch_loss, batch_correct = train_step(eng, x, y, lr)
        loss_sum += batch_loss
        correct += batch_correct
        seen += len(y)
        if i % CHECK_EVERY == 0:
            _check_finite(loss_sum, epoch, i)
    _check_finite(loss_sum, epoch, steps_per_epoch)
    return loss_sum.item() / seen, correct.item() / seen, lr


def evaluate(eng: Engine, split: Split, data: DataBundle, batch_size: int) -> tuple[float, float]:
    """(mean loss, accuracy) in fp32, so the figures rebuild from a checkpoint on any hardware."""
    eng.model.eval()
    return evaluate_model(eng.forward, split, data, batch_size, channels_last=eng.channels_last,
                          device=eng.device)


def _check_finite(loss_sum: torch.Tensor, epoch: int, step: int) -> None:
    if not torch.isfinite(loss_sum).item():
        raise DivergedError(epoch, f"non-finite training loss by step {step} of the epoch")


def _check_fits(spec: ArchSpec, data: DataBundle) -> None:
    if spec.in_channels != data.in_channels or spec.num_classes != data.num_classes:
        raise ValueError(
            f"spec does not fit dataset '{data.name}': spec has in_channels={spec.in_channels}, "
            f"num_classes={spec.num_classes}; data has in_channels={data.in_channels}, "
            f"num_classes={data.num_classes}. Pass them as overrides, e.g. get_spec(name, "
            f"in_channels={data.in_channels}, num_classes={data.num_classes}).")
