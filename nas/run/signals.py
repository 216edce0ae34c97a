"""Ctrl-C and SIGTERM, the two ways a run is stopped, and what each kind of command does then.

Two policies over one handler installer (signals reach the main thread only):
- `StopRequest` (the search): the first signal only asks. Ray Tune's own SIGINT handler ends
  the run and kills the trials without telling the searcher, so a stopped search used to
  exit 0 with "0 trained"; the driver disables it and installs this one instead. `signum`
  is set, a Tune Stopper and the driver read it, and trainings in flight keep their last
  checkpoint for `--resume`. A second signal raises KeyboardInterrupt for an immediate exit.
- `interrupts_raise()` (commands whose training runs in this process): the first signal
  raises `Interrupted` where the program is; it keeps its last checkpoint and reports. The
  second gets the default action, so a user who presses Ctrl-C twice is never held up.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Callable, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_INTERRUPTED = {signal.SIGINT: 130, signal.SIGTERM: 143}  # 128 + signal number, as shells report


def _install(handler: Callable[[int, object], None]) -> dict[int, object]:
    """`handler` for SIGINT and SIGTERM; the old handlers, to restore. Nothing off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: signal.signal(s, handler) for s in SIGNALS}


def _restore(old: dict[int, object]) -> None:
    for s, h in old.items():
        signal.signal(s, h)


class StopRequest:
    def __init__(self, log: Callable[[str], None], what: str = "search"):
        self.log, self.what = log, what
        self.signum: int | None = None
        self._old: dict[int, object] = {}  # plain data: Tune pickles what holds a StopRequest

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def __enter__(self) -> "StopRequest":
        self._old = _install(self._handle)
        return self

    def __exit__(self, *exc) -> None:
        _restore(self._old)

    def _handle(self, signum: int, _frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.signum = signum
        self.log(f"\n[{self.what}] {signal.Signals(signum).name} received: stopping; finished results are kept and "
                 f"trainings in flight keep their last checkpoint (press Ctrl-C again to quit at once)")


class Interrupted(KeyboardInterrupt):
    """The first SIGINT or SIGTERM, raised where the program is; a KeyboardInterrupt, so no
    `except Exception` on the way swallows it."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return EXIT_INTERRUPTED[self.signum]


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    """Within: the first SIGINT/SIGTERM raises Interrupted at once; a second one ends the process."""

    def handle(signum: int, _frame) -> None:
        for s in SIGNALS:
            signal.signal(s, signal.SIG_DFL)
        raise Interrupted(signum)

    old = _install(handle)
    try:
        yield
    finally:
        _restore(old)
