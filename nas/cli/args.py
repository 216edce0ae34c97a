"""Command-line plumbing shared by every script: one-line errors, checked numbers, exit codes.

Every numeric flag is parsed by one of the typed checkers below, so `--trials -3` fails at
once with the same one-line style as a malformed space file:
`error: argument --trials: expected an integer >= 1, got '-3'`.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from typing import Callable

EXIT_FAILED = 1  # it ran, but produced nothing to go on with (e.g. an empty front)
EXIT_ERROR = 2  # bad input: nothing was started


class Parser(argparse.ArgumentParser):
    """argparse with defaults in --help and one-line errors (no usage dump)."""

    def __init__(self, doc: str | None, **kw):
        super().__init__(description=doc, formatter_class=_Formatter, **kw)

    def error(self, message: str):  # noqa: D401 - argparse's hook
        self.exit(EXIT_ERROR, f"error: {message} (see {self.prog} --help)\n")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keep the docstring's examples as written; show every default that is a value."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = not any(action.default is v for v in (None, False, True, argparse.SUPPRESS))
        if shown and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def integer(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value
    parse.__name__ = f"integer >= {minimum}"
    return parse


def number(minimum: float, *, strict: bool = False, maximum: float | None = None) -> Callable[[str], float]:
    """A float in [minimum, maximum] (or (minimum, maximum] when strict)."""
    low = f"> {minimum:g}" if strict else f">= {minimum:g}"
    want = f"a number {low}" + (f" and <= {maximum:g}" if maximum is not None else "")

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        bad = not value == value or value < minimum or (strict and value == minimum) or \
            (maximum is not None and value > maximum)
        if bad:
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}")
        return value
    parse.__name__ = want
    return parse


def fraction(text: str) -> float:
    """A number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), got {text!r}")
    return value


def resume_command(argv: list[str], script: str) -> str:
    """The command line that continues this run: the same script path and arguments, plus --resume."""
    args = list(argv) if "--resume" in argv else list(argv) + ["--resume"]
    typed = sys.argv[0] if sys.argv and sys.argv[0].endswith(".py") else script  # as the user typed it
    return "python " + shlex.join([typed, *args])


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _known_errors() -> tuple[type[BaseException], ...]:
    from nas.cli.outdir import OutDirError
    from nas.space.problems import SpaceError
    from sharesnet.data import DataError
    from sharesnet.spec import SpecError

    return (SpaceError, SpecError, DataError, OutDirError, FileNotFoundError)


KNOWN_ERRORS = _known_errors()  # bad input the user can fix: one line, exit 2
