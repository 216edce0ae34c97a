"""What a search asks of the machine or cluster, and whether that can be met.

Ray queues a trial whose resources no node has and waits for ever; a fractional GPU on a
machine without one, or more cores per trial than any node has, was an endless
"N trainings to go". So every request is checked here, before any trial, against what
Ray reports (pure functions of the node list, unit-tested), and refused in one line.
"""
from __future__ import annotations

import dataclasses
import os


class ResourceError(ValueError):
    """A resource request that this machine or cluster cannot meet; one line with the fix."""


@dataclasses.dataclass(frozen=True)
class Resources:
    gpus: int = 0  # GPUs of this machine Ray may use (0 = CPU only); not used with `address`
    gpus_per_trial: float = 0  # fractions let several small trials share one GPU
    cpus_per_trial: float = 1
    address: str | None = None  # join a running Ray cluster ("auto" or host:port)
    max_concurrent: int | None = None
    max_failures: int = 1  # Ray retries a trial whose worker died (not one that failed in Python)

    @property
    def device(self) -> str:
        """Where a trial trains: on the GPU Ray gives it, or on CPUs; never chosen by what is visible."""
        return "cuda" if self.gpus_per_trial > 0 else "cpu"

    @property
    def threads(self) -> int:
        return max(1, int(self.cpus_per_trial))


def default_gpus_per_trial(gpus: int, gpus_per_trial: float | None) -> float:
    """One GPU per trial when GPUs are asked for and no share is given."""
    return gpus_per_trial if gpus_per_trial is not None else (1.0 if gpus else 0.0)


def check_local(res: Resources, visible_gpus: int) -> None:
    """Before Ray starts on this machine: --gpus cannot exceed the CUDA devices torch sees."""
    if res.address:
        if res.gpus:
            raise ResourceError(f"--gpus {res.gpus}: with --address the cluster's own GPUs are used; drop --gpus "
                                f"and set --gpus-per-trial")
        return
    if res.gpus > visible_gpus:
        seen = os.environ.get("CUDA_VISIBLE_DEVICES")
        where = f" (CUDA_VISIBLE_DEVICES={seen!r})" if seen is not None else ""
        if visible_gpus == 0:
            raise ResourceError(f"--gpus {res.gpus}: no CUDA device is visible to torch on this machine{where}; "
                                f"pass --gpus 0 to train on the CPU")
        raise ResourceError(f"--gpus {res.gpus}: only {visible_gpus} CUDA device(s) are visible on this "
                            f"machine{where}; pass --gpus {visible_gpus} or fewer")
    if res.gpus_per_trial > 0 and res.gpus == 0:
        raise ResourceError(f"--gpus-per-trial {res.gpus_per_trial:g}: no GPUs were given to the search; pass "
                            f"--gpus N (this machine's GPUs to use), or --gpus-per-trial 0 to train on the CPU")


def check_fits(res: Resources, nodes: list[dict[str, float]]) -> None:
    """Every trial must fit on one node; `nodes` are the alive nodes' total resources."""
    if res.gpus_per_trial > 1 and res.gpus_per_trial != int(res.gpus_per_trial):
        raise ResourceError(f"--gpus-per-trial {res.gpus_per_trial:g}: above 1 it must be a whole number "
                            f"of GPUs (Ray shares a GPU only in fractions below 1)")
    if any(fits(res, n) for n in nodes):
        return
    where = describe(nodes)
    if res.gpus_per_trial > 0 and not any(n.get("GPU", 0) for n in nodes):
        raise ResourceError(f"--gpus-per-trial {res.gpus_per_trial:g}: Ray reports no GPU ({where}); "
                            f"pass --gpus-per-trial 0 to train on CPUs, or add GPU nodes")
    if not any(n.get("CPU", 0) >= res.cpus_per_trial for n in nodes):
        most = max((n.get("CPU", 0) for n in nodes), default=0)
        raise ResourceError(f"--cpus-per-trial {res.cpus_per_trial:g}: no Ray node has that many CPUs "
                            f"({where}); pass --cpus-per-trial {most:g} or less")
    raise ResourceError(f"--cpus-per-trial {res.cpus_per_trial:g} with --gpus-per-trial {res.gpus_per_trial:g}: "
                        f"no single Ray node has both ({where}); lower one of them")


def fits(res: Resources, node: dict[str, float]) -> bool:
    """Whether one trial fits on this node (its total resources)."""
    return node.get("CPU", 0) >= res.cpus_per_trial and node.get("GPU", 0) >= res.gpus_per_trial


def slots(nodes: list[dict[str, float]], res: Resources) -> int:
    """How many trials can run at once: per node, the scarcer of CPUs and GPUs, summed."""
    total = 0
    for n in nodes:
        fit = [n.get("CPU", 0) // res.cpus_per_trial if res.cpus_per_trial else float("inf")]
        if res.gpus_per_trial:
            fit.append(n.get("GPU", 0) // res.gpus_per_trial)
        total += min(fit)
    if res.max_concurrent:
        total = min(total, res.max_concurrent)
    return max(1, int(total))


def describe(nodes: list[dict[str, float]]) -> str:
    parts = [f"{n.get('CPU', 0):g} CPUs, {n.get('GPU', 0):g} GPUs" for n in nodes]
    if len(parts) == 1:
        return f"one node: {parts[0]}"
    return f"{len(parts)} nodes: " + "; ".join(parts)
