"""Datasets as uint8 tensors on the training device, with seeded splits and batch augmentation."""
from sharesnet.data.augment import Augment, batches, num_batches
from sharesnet.data.bundle import DataBundle, TensorSplit, load_data
from sharesnet.data.errors import DataError

__all__ = ["load_data", "DataBundle", "TensorSplit", "DataError", "batches", "Augment", "num_batches"]
