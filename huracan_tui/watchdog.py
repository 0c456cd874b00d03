"""Exit cleanly when the SSH session dies: on SIGHUP, or when the controlling terminal is gone.

A dead session otherwise leaves a TUI (and its --demo child) spinning on a terminal nobody reads.
The check runs once a second on a daemon thread and costs one ioctl.
"""

from __future__ import annotations

import os
import signal
import sys
import termios
import threading
from types import FrameType

from textual.app import App


def tty_alive(fd: int) -> bool:
    try:
        termios.tcgetattr(fd)
        os.tcgetpgrp(fd)
    except (OSError, termios.error):
        return False
    return True


class TtyWatchdog:
    def __init__(self, app: App[int], *, interval_s: float = 1.0) -> None:
        self.app = app
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._previous: object = None

    def start(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGHUP, self._on_hangup)
        fd = sys.__stdin__.fileno() if sys.__stdin__ is not None else -1
        if fd >= 0 and os.isatty(fd):
            self._thread = threading.Thread(target=self._watch, args=(fd,), name="tty-watchdog", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._previous is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGHUP, self._previous)  # type: ignore[arg-type]

    def _exit(self) -> None:
        if self.app.is_running:
            self.app.call_from_thread(self.app.exit, 129)

    def _on_hangup(self, signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=self._exit, daemon=True).start()

    def _watch(self, fd: int) -> None:
        while not self._stop.wait(self.interval_s):
            if not tty_alive(fd):
                self._exit()
                return
