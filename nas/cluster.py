"""Start or join Ray, and check the search's resource request against what Ray reports."""
from __future__ import annotations

import signal
import threading
from typing import Callable

from nas.resources import Resources, check_fits, check_local, describe


def connect(res: Resources, log: Callable[[str], None] = print) -> list[dict[str, float]]:
    """Start Ray on this machine (or join `res.address`); return the alive nodes' resources.

    Raises ResourceError, before any trial, when the request cannot be met."""
    import ray
    import torch

    check_local(res, torch.cuda.device_count())
    if not ray.is_initialized():
        # Ray trusts num_gpus blindly; check_local has made sure this machine has them.
        kwargs = {"address": res.address} if res.address else {"num_gpus": res.gpus}
        # ray.init installs its own SIGTERM handler (sys.exit), which would turn a SIGTERM into
        # an abrupt exit instead of the search's clean stop: keep the caller's handler.
        term = signal.getsignal(signal.SIGTERM)
        ray.init(include_dashboard=False, logging_level="ERROR", log_to_driver=False, **kwargs)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, term)
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    check_fits(res, nodes)
    log(f"[search] Ray: {describe(nodes)}; each trial takes {res.cpus_per_trial:g} CPU(s)"
        + (f" and {res.gpus_per_trial:g} GPU(s)" if res.gpus_per_trial else " and trains on the CPU"))
    return nodes
