"""On a Ray cluster the experiment folder must be one folder that every node sees: checked before any trial.

A trial writes checkpoints/<key>/last.pt on the node it runs on; when that node is lost, Ray
retries the trial on another node, which resumes from that file. A node that has only a
local folder of the same name would train from scratch and keep its checkpoints to itself,
and a node that cannot write there would fail every trial it gets. Neither shows until
trials run, so with --address the driver writes a file under checkpoints/, and one tiny
task pinned to each node that can run a trial reads it and writes a file of its own the way
a checkpoint is written (new folder, temp file, rename); the driver then reads that back.
"""
from __future__ import annotations

import os
import shutil
import socket
import uuid
from pathlib import Path

from nas.run.resources import ResourceError

# A node starts a Python worker for the probe: seconds on a busy node. Past this the check
# fails in one line instead of waiting for ever.
PROBE_TIMEOUT_S = 120.0
FIX = "put --out on storage that every Ray node sees at the same path and can write (e.g. NFS)"


def check_shared_folder(exp_dir: Path, nodes: list[dict]) -> list[str]:
    """Probe exp_dir/checkpoints from each of `nodes` (ray.nodes() entries); return "host/node-id" names.

    Raises ResourceError, one line naming the node, the folder and the fix. Leaves no file
    behind, and no folder either when the check fails."""
    exp_dir = Path(exp_dir)
    created = _missing(exp_dir / "checkpoints")  # removed again if the search cannot start
    probe = exp_dir / "checkpoints" / f".storage-probe-{uuid.uuid4().hex[:12]}"
    checked = False
    try:
        try:
            probe.mkdir(parents=True)
            (probe / "driver").write_text(probe.name)
        except OSError as e:
            raise ResourceError(f"experiment folder {exp_dir}: this machine (the driver) cannot write there "
                                f"({e.strerror or e}); choose another --out") from None
        names = [_verdict(exp_dir, probe, node, answer) for node, answer in _ask(probe, nodes)]
        checked = True
        return names
    finally:
        shutil.rmtree(probe, ignore_errors=True)
        for folder in [] if checked else created:  # deepest first; rmdir removes only what is empty
            try:
                folder.rmdir()
            except OSError:
                pass


def probe_node(probe: str, node_id: str) -> tuple[str, str | None]:
    """On one node: (host name, problem or None). Plain Python, so it is tested without Ray."""
    host, folder = socket.gethostname(), Path(probe)
    try:
        seen = (folder / "driver").read_text()
    except FileNotFoundError:
        return host, "does not see the files this machine writes there (it has a local folder of that name, or none)"
    except OSError as e:
        return host, f"cannot read it ({e.strerror or e})"
    try:
        mine = folder / node_id
        mine.mkdir()
        (mine / "probe.tmp").write_text(seen)
        os.replace(mine / "probe.tmp", mine / "probe")
    except OSError as e:
        return host, f"cannot write there ({e.strerror or e})"
    return host, None


def _ask(probe: Path, nodes: list[dict]) -> list[tuple[dict, tuple[str, str | None] | Exception | None]]:
    """Run probe_node on every node at once; an answer is its result, Ray's error, or None (no answer)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    # No CPU asked, so the probe runs even on a node whose cores are all taken.
    task = ray.remote(num_cpus=0, max_retries=0)(probe_node)
    refs = [task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
            .remote(str(probe), n["NodeID"]) for n in nodes]
    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=PROBE_TIMEOUT_S)
    answers = []
    for node, ref in zip(nodes, refs):
        try:
            answers.append((node, ray.get(ref) if ref in ready else None))
        except ray.exceptions.RayError as e:
            answers.append((node, e))
    return answers


def _verdict(exp_dir: Path, probe: Path, node: dict, answer) -> str:
    host = node.get("NodeManagerHostname", "?")
    if answer is None:
        problem = f"did not answer the storage check within {PROBE_TIMEOUT_S:g} s"
    elif isinstance(answer, Exception):
        problem = f"could not run the storage check ({type(answer).__name__})"
    else:
        host, problem = answer
        if problem is None and not (probe / node["NodeID"] / "probe").is_file():
            problem = "writes there, but this machine does not see what it wrote (a local folder of that name?)"
    name = f"{host}/{node['NodeID'][:8]}"  # as the journal's `node` column names it
    if problem:
        raise ResourceError(f"experiment folder {exp_dir}: Ray node {name} {problem}; {FIX}")
    return name


def _missing(folder: Path) -> list[Path]:
    """`folder` and its ancestors that do not exist yet, deepest first."""
    out = []
    for p in (folder, *folder.parents):
        if p.exists():
            break
        out.append(p)
    return out
