"""DataError: a dataset that cannot be loaded; the message names the path and the fix."""
from __future__ import annotations


class DataError(RuntimeError):
    """A dataset is missing, malformed or too large; one clear message, never a traceback."""


class NotInMemory(DataError):
    """A valid dataset that the in-memory loader cannot hold (mixed sizes, or > max_bytes)."""


class ImageSizeError(DataError):
    """`image_size` contradicts images the in-memory loader keeps as they are (it never resizes)."""

    def __init__(self, message: str, problem: str, side: int | None):
        super().__init__(message)
        self.problem = problem  # e.g. "the images in ROOT/train are 32x32 but image_size is 64"
        self.side = side  # the image_size that fits; None when no single side does (non-square images)
