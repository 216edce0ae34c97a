"""Datasets as uint8 tensors on the training device (or streamed from disk when too large),
with seeded splits and batch augmentation."""
from sharesnet.data.augment import Augment, batches, num_batches
from sharesnet.data.bundle import DataBundle, load_data
from sharesnet.data.errors import DataError
from sharesnet.data.split import Split, TensorSplit

__all__ = ["load_data", "DataBundle", "Split", "TensorSplit", "DataError", "batches", "Augment",
           "num_batches"]
