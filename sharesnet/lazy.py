"""Package names that load on first use (PEP 562), so light submodules stay light.

`sharesnet.hints` or `sharesnet.data.errors` must import without torch: every command's
--help and argument errors then answer at once instead of after torch's three-second import.
"""
from __future__ import annotations

import importlib
import sys
from typing import Any, Callable


def exports(package: str, where: dict[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package` that imports `name` from `package.<where[name]>`."""

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    return __getattr__
