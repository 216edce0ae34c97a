"""Datasets as uint8 tensors on the training device (or streamed from disk when too large),
with seeded splits and batch augmentation. The names below load on first use
(sharesnet/lazy.py says why)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sharesnet import lazy

_WHERE = {
    "Augment": "augment", "batches": "augment", "num_batches": "augment",
    "DataBundle": "bundle", "load_data": "bundle", "DataError": "errors",
    "Split": "split", "TensorSplit": "split",
}
__all__ = list(_WHERE)
__getattr__ = lazy.exports(__name__, _WHERE)

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and editors
    from sharesnet.data.augment import Augment, batches, num_batches  # noqa: F401
    from sharesnet.data.bundle import DataBundle, load_data  # noqa: F401
    from sharesnet.data.errors import DataError  # noqa: F401
    from sharesnet.data.split import Split, TensorSplit  # noqa: F401
