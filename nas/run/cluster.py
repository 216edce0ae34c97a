"""Start or join Ray, and check the search's resource request against what Ray reports."""
from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Callable

from nas.run.resources import Resources, check_fits, check_local, describe, fits
from nas.run.shared_folder import check_shared_folder


def start_ray(**kwargs) -> None:
    """ray.init(**kwargs), keeping the caller's SIGTERM handler.

    ray.init installs its own (sys.exit), which would turn a SIGTERM into an abrupt exit
    instead of the command's clean stop and report."""
    import ray

    term = signal.getsignal(signal.SIGTERM)
    ray.init(**kwargs)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, term)


def connect(res: Resources, log: Callable[[str], None] = print,
            exp_dir: Path | None = None) -> list[dict[str, float]]:
    """Start Ray on this machine (or join `res.address`); return the alive nodes' resources.

    Raises ResourceError, before any trial, when the request cannot be met, or when, on a
    cluster, a node that can run trials does not share `exp_dir` with this machine."""
    import ray
    import torch

    check_local(res, torch.cuda.device_count())
    if not ray.is_initialized():
        # Ray trusts num_gpus blindly; check_local has made sure this machine has them. Without
        # --address the search starts its own Ray ("local"), even where `ray start` left one
        # running, which plain ray.init() would join and then refuse num_gpus.
        kwargs = {"address": res.address} if res.address else {"address": "local", "num_gpus": res.gpus}
        start_ray(include_dashboard=False, logging_level="ERROR", log_to_driver=False, **kwargs)
    alive = [n for n in ray.nodes() if n.get("Alive")]
    nodes = [n["Resources"] for n in alive]
    check_fits(res, nodes)
    log(f"[search] Ray: {describe(nodes)}; each trial takes {res.cpus_per_trial:g} CPU(s)"
        + (f" and {res.gpus_per_trial:g} GPU(s)" if res.gpus_per_trial else " and trains on the CPU"))
    if res.address and exp_dir is not None:  # a Ray started here shares this machine's disk
        names = check_shared_folder(exp_dir, [n for n in alive if fits(res, n["Resources"])])
        log(f"[search] every node that can run a trial reads and writes {exp_dir} "
            f"({len(names)}: {', '.join(names)})")
    return nodes
