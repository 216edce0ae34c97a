"""Small helpers to validate nested YAML mappings and collect every problem at once.

Each problem is one line: `<file>: <key.path>: <what was expected>`, so a user fixes a
malformed search space in one pass instead of one traceback at a time.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from sharesnet.hints import did_you_mean, did_you_mean_aside


class SpaceError(ValueError):
    """A malformed search space; the message lists one line per problem."""


class Problems:
    def __init__(self, source: str):
        self.source, self.lines = source, []

    def add(self, path: str, message: str) -> None:
        self.lines.append(f"{self.source}: {path}: {message}")

    def raise_if_any(self) -> None:
        if self.lines:
            n = len(self.lines)
            head = f"{n} problem{'s' if n > 1 else ''} in the search space:\n  "
            raise SpaceError(head + "\n  ".join(self.lines))

    def mapping(self, value: Any, path: str, known: dict[str, str]) -> dict:
        """The mapping at `path`, reporting unknown keys with a did-you-mean; {} when absent."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(path, f"expected a mapping with keys {', '.join(known)}, got {_kind(value)}")
            return {}
        for key in value:
            if key not in known:
                self.add(f"{path}.{key}" if path else str(key), f"unknown key; {did_you_mean(key, known)}")
        return value

    def check(self, value: Any, path: str, ok: Callable[[Any], bool], expected: str) -> Any:
        """`value` if ok(value), else record `expected` and return None."""
        try:
            good = ok(value)
        except Exception:
            good = False
        if not good:
            self.add(path, f"expected {expected}, got {value!r}")
            return None
        return value

    def choice(self, value: Any, path: str, allowed) -> Any:
        if value in allowed:
            return value
        self.add(path, f"expected one of {', '.join(map(str, allowed))}, got {value!r}"
                       f"{did_you_mean_aside(value, allowed)}")
        return None

    def int_list(self, value: Any, path: str, minimum: int = 1) -> tuple[int, ...] | None:
        ok = isinstance(value, list) and value and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in value)
        if not ok:
            self.add(path, f"expected a non-empty list of integers >= {minimum}, got {value!r}")
            return None
        return tuple(value)


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _kind(v: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number"}.get(type(v), type(v).__name__)


def read_yaml(path: str | Path, what: str, examples: str) -> Any:
    """The YAML document in `path`; SpaceError naming the file when it is missing or not YAML."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise SpaceError(f"{path}: no such {what} (see {examples} for examples)")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise SpaceError(f"{path}: not valid YAML: {e}") from None
