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


def test_every_training_releases_its_memory_even_when_it_fails(monkeypatch):
    # train() itself hands the memory back, so every caller (trial actor, train_final job,
    # fidelity run) gets it, and a diverged or stopped run too.
    import dataclasses

    from sharesnet.data import load_data
    from sharesnet.train import train, trainer
    from tests.test_train import QUICK, TINY

    calls = []
    monkeypatch.setattr(trainer, "release_freed_memory", lambda: calls.append(1))
    digits = load_data("digits", limit=200)
    train(TINY, dataclasses.replace(QUICK, epochs=1), digits)
    assert calls == [1]
    def cut(epoch, metrics):
        raise KeyboardInterrupt  # as Ctrl-C inside a run

    with pytest.raises(KeyboardInterrupt):
        train(TINY, dataclasses.replace(QUICK, epochs=1), digits, on_epoch=cut)
    assert calls == [1, 1]
