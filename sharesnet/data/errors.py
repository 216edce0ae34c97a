"""DataError: a dataset that cannot be loaded; the message names the path and the fix."""
from __future__ import annotations


class DataError(RuntimeError):
    """A dataset is missing, malformed or too large; one clear message, never a traceback."""


class NotInMemory(DataError):
    """A valid dataset that the in-memory loader cannot hold (mixed sizes, or > max_bytes)."""
