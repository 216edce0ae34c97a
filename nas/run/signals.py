"""Ctrl-C and SIGTERM as a clean stop: the first signal asks, a second one quits at once.

Ray Tune's own SIGINT handler ends the run and kills the trials without telling the
searcher, so a stopped search used to exit 0 with "0 trained". The driver disables it
and installs this one instead: the first signal sets `signum`, which a Tune Stopper and
the driver read; trainings in flight keep their last checkpoint and are continued by
`--resume`. A second signal raises KeyboardInterrupt for an immediate exit.
"""
from __future__ import annotations

import signal
import threading
from typing import Callable

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    def __init__(self, log: Callable[[str], None], what: str = "search"):
        self.log, self.what = log, what
        self.signum: int | None = None
        self._old: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            self._old = {s: signal.signal(s, self._handle) for s in SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, old in self._old.items():
            signal.signal(s, old)

    def _handle(self, signum: int, _frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.signum = signum
        self.log(f"\n[{self.what}] {signal.Signals(signum).name} received: stopping; finished results are kept and "
                 f"trainings in flight keep their last checkpoint (press Ctrl-C again to quit at once)")
