"""Give freed heap memory back to the operating system after a training.

glibc keeps the memory a process frees for its own later use. A training's activations
are freed at its end, but the process's resident size stays near its peak, and a process
that trains one net after another (a search's reused trial actor, train_final's jobs)
creeps up to the peak of its largest net plus fragmentation. Measured on the 2-core AMD
EPYC, torch 2.14.1, one thread: eight ResNet-32-family nets (depth 3 to 7 per stage), two
batch-256 steps each, everything deleted after each: resident size after each net
1.06-1.78 GiB; with malloc_trim(0) after each, 0.67 GiB every time. The search's two trial
actors on CIFAR-10 had grown to 3.8 and 4.6 GiB after 7 trials each.
"""
from __future__ import annotations

import ctypes
import functools
import gc


def release_freed_memory() -> bool:
    """Collect garbage, then ask glibc to return free heap pages (malloc_trim); False where the C
    library has no malloc_trim (not glibc: macOS, musl), which is harmless."""
    gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    try:
        fn = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
    return fn
