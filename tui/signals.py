"""Signals during a run: INT, TERM and HUP ask for one clean stop; repeats cannot cut the clean-up."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

# Ctrl-C, ``kill``, and the terminal closing (HUP) all mean "stop now, keep what is done".
STOP_SIGNALS = tuple(
    s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None
)


class StopSignals:
    """While active, the first stop signal calls ``on_stop`` once; later ones are only counted.

    A second Ctrl-C used to raise KeyboardInterrupt inside the clean-up, so no manifest was
    written and no resume hint printed. The handlers never raise; they only record.
    """

    def __init__(self, on_stop: Callable[[int], None] | None = None) -> None:
        self._on_stop = on_stop
        self._previous: dict[int, Any] = {}
        self.first: int | None = None
        self.count = 0
        self.event = threading.Event()

    @property
    def hung_up(self) -> bool:
        return self.first is not None and self.first == getattr(signal, "SIGHUP", None)

    @property
    def name(self) -> str:
        return signal.Signals(self.first).name if self.first is not None else ""

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.first is not None:
            return
        self.first = signum
        self.event.set()
        if self._on_stop is not None:
            self._on_stop(signum)

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self  # tests driving a run from a thread: signals stay where they are
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.first is not None:
            # A stop was asked: the process is on its way out, and a Ctrl-C pressed again after
            # the save must not end it with KeyboardInterrupt (exit -2) instead of 130. Ignored,
            # not left to our handler: the interpreter puts Python handlers back to the default
            # while it shuts down, and a signal then would still kill it with -2.
            if threading.current_thread() is threading.main_thread():
                for signum in self._previous:
                    signal.signal(signum, signal.SIG_IGN)
            return
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()
