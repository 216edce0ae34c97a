"""After a training, freed heap memory goes back to the operating system (glibc keeps it otherwise)."""
import pytest
import torch

from sharesnet.train.memory import _malloc_trim, release_freed_memory


def _resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.skipif(_malloc_trim() is None, reason="no glibc malloc_trim here (its absence is harmless)")
def test_freed_fragmented_heap_is_returned():
    # 64 KiB tensors come from the heap; keeping every tenth alive leaves the freed ones in holes
    # that glibc does not give back by itself, as a training's activations do.
    tensors = [torch.ones(16384) for _ in range(4000)]  # 256 MiB
    kept = tensors[::10]
    del tensors
    before = _resident_bytes()
    assert release_freed_memory()
    assert before - _resident_bytes() > 100 * 2**20
    assert float(sum(t.sum() for t in kept)) == 400 * 16384  # what is still held is intact
