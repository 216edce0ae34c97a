"""Resource requests are checked against what Ray reports, before any trial; never a hang."""
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nas.run.resources import ResourceError, Resources, check_fits, check_local, default_gpus_per_trial, slots
from tests.test_search import write_space

ROOT = Path(__file__).resolve().parents[1]
CPU_NODE = {"CPU": 2.0}
GPU_NODE = {"CPU": 16.0, "GPU": 8.0}


@pytest.mark.parametrize("res, nodes, fragment", [
    (Resources(gpus_per_trial=0.5), [CPU_NODE], "Ray reports no GPU (one node: 2 CPUs, 0 GPUs)"),
    (Resources(cpus_per_trial=4), [CPU_NODE], "pass --cpus-per-trial 2 or less"),
    (Resources(cpus_per_trial=2.5), [CPU_NODE], "no Ray node has that many CPUs"),
    (Resources(gpus_per_trial=1.5), [GPU_NODE], "above 1 it must be a whole number"),
    (Resources(cpus_per_trial=8, gpus_per_trial=1), [{"CPU": 8.0}, {"CPU": 2.0, "GPU": 1.0}],
     "no single Ray node has both"),
])
def test_unmeetable_requests_are_refused(res, nodes, fragment):
    with pytest.raises(ResourceError, match="^--") as e:
        check_fits(res, nodes)
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_meetable_requests_pass_and_count_slots():
    check_fits(Resources(gpus_per_trial=0.25, cpus_per_trial=2), [GPU_NODE])
    assert slots([GPU_NODE], Resources(gpus_per_trial=0.25, cpus_per_trial=2)) == 8  # CPUs bind: 16 / 2
    assert slots([GPU_NODE], Resources(gpus_per_trial=0.25, cpus_per_trial=1)) == 16  # 32 GPU shares, 16 CPUs
    assert slots([GPU_NODE, GPU_NODE], Resources(gpus_per_trial=1)) == 16  # summed per node
    assert slots([CPU_NODE], Resources(cpus_per_trial=1, max_concurrent=1)) == 1
    assert slots([{"CPU": 3.0}, {"CPU": 3.0}], Resources(cpus_per_trial=2)) == 2  # no trial spans two nodes


def test_gpu_requests_need_visible_gpus():
    with pytest.raises(ResourceError, match="--gpus 8: no CUDA device is visible to torch on this machine"):
        check_local(Resources(gpus=8, gpus_per_trial=1), visible_gpus=0)
    with pytest.raises(ResourceError, match="only 2 CUDA device"):
        check_local(Resources(gpus=8, gpus_per_trial=1), visible_gpus=2)
    with pytest.raises(ResourceError, match="pass --gpus N"):
        check_local(Resources(gpus=0, gpus_per_trial=0.5), visible_gpus=0)
    with pytest.raises(ResourceError, match="with --address the cluster's own GPUs"):
        check_local(Resources(gpus=2, address="auto"), visible_gpus=2)
    check_local(Resources(gpus=2, gpus_per_trial=0.5), visible_gpus=2)
    assert default_gpus_per_trial(4, None) == 1 and default_gpus_per_trial(0, None) == 0
    assert default_gpus_per_trial(4, 0.5) == 0.5


def test_trial_device_follows_the_request_not_what_is_visible():
    assert Resources(gpus=1, gpus_per_trial=0.5).device == "cuda"
    assert Resources().device == "cpu"  # --gpus 0 on a GPU machine still trains on CPUs, as Ray was told


def _search(tmp_path, *flags):
    space = write_space(tmp_path)
    start = time.time()
    out = subprocess.run([sys.executable, str(ROOT / "scripts/search.py"), "--space", str(space), "--out",
                          str(tmp_path), *flags], capture_output=True, text=True, timeout=180)
    return out, time.time() - start


@pytest.mark.parametrize("flags, fragment", [
    (["--gpus", "8"], "--gpus 8: no CUDA device is visible to torch on this machine; pass --gpus 0"),
    (["--gpus-per-trial", "0.5"], "--gpus-per-trial 0.5: no GPUs were given to the search"),
    (["--cpus-per-trial", "64"], "--cpus-per-trial 64: no Ray node has that many CPUs"),
    (["--trials", "-3"], "argument --trials: expected an integer >= 1, got '-3'"),
    (["--cpus-per-trial", "0"], "argument --cpus-per-trial: expected a number > 0, got '0'"),
    (["--max-concurrent", "0"], "argument --max-concurrent: expected an integer >= 1"),
    (["--gpus", "1.5"], "argument --gpus: expected an integer >= 0, got '1.5'"),
])
def test_search_refuses_at_once_in_one_line(tmp_path, flags, fragment):
    if "--gpus" in flags and _cuda_visible():
        pytest.skip("this machine has a GPU")
    out, took = _search(tmp_path, *flags)
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    assert fragment in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not (tmp_path / "tiny").exists(), "nothing is created for a search that cannot start"
    assert took < 120  # refused up front, not after a wait


def _cuda_visible() -> bool:
    import torch

    return torch.cuda.is_available()
