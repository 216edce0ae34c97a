"""Progress text shared by the search, the parent training and the final retraining."""
from __future__ import annotations


def count(n: float, noun: str) -> str:
    """`1 epoch`, `15 epochs`, `0.5 epochs`: a number and its noun, singular only for exactly one."""
    return f"{n:g} {noun}{'' if n == 1 else 's'}"


def duration(seconds: float) -> str:
    """`45s`, `3m05s`, `1h02m`."""
    seconds = max(0, int(round(seconds)))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def epoch_text(result: dict, who: str = "") -> str:
    """A running trial's report as `epoch 3/9 val_acc 0.5120 train_acc 0.6010 812 img/s, <who>~2m10s to go`."""
    left = (result["epochs"] - result["epoch"]) * (result.get("epoch_time_s") or 0.0)
    train = f"train_acc {result['train_acc']:.4f} " if result.get("train_acc") is not None else ""
    return (f"epoch {result['epoch']}/{result['epochs']} val_acc {result['val_acc']:.4f} {train}"
            f"{result.get('images_per_s') or 0:,.0f} img/s, {who}~{duration(left)} to go")
