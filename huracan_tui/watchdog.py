"""Exit cleanly when the SSH session dies: on SIGHUP, or when the controlling terminal is gone.

A dead session otherwise leaves a TUI (and its --demo child) spinning on a terminal nobody reads.
The check runs once a second on a daemon thread and costs one ioctl.

A clean exit is asked for first; but with the terminal gone Textual can block for ever restoring it
(seen: every thread parked on a lock after a hangup), so after `grace_s` the watchdog runs the cleanup
(stop the --demo simulator) itself and ends the process: there is no terminal left to restore.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import termios
import threading
from collections.abc import Callable
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
    def __init__(self, app: App[int], *, interval_s: float = 1.0, grace_s: float = 3.0,
                 cleanup: Callable[[], object] | None = None) -> None:
        self.app = app
        self.interval_s = interval_s
        self.grace_s = grace_s
        self.cleanup = cleanup
        self._exiting = threading.Lock()
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
        if not self._exiting.acquire(blocking=False):
            return  # SIGHUP and the tty check can both fire: one exit is enough
        if self.app.is_running:
            threading.Thread(target=self._ask_app_to_exit, daemon=True).start()
        if self._stop.wait(self.grace_s):
            return  # the app ended and `stop()` was called: the normal cleanup runs
        if self.cleanup is not None:
            self.cleanup()
        os._exit(129)

    def _ask_app_to_exit(self) -> None:
        with contextlib.suppress(RuntimeError):  # the app stopped in the meantime
            self.app.call_from_thread(self.app.exit, 129)

    def _on_hangup(self, signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=self._exit, daemon=True).start()

    def _watch(self, fd: int) -> None:
        while not self._stop.wait(self.interval_s):
            if not tty_alive(fd):
                self._exit()
                return
