"""`--demo`: the simulated engine as a background process that the TUI starts, watches and stops.

It runs in its own session so a terminal hangup reaches only the TUI, which then stops it with
SIGTERM (the simulator flushes on SIGTERM); its output goes to a log file, never over the screen.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


class DemoProcess:
    def __init__(self, data_dir: Path, *, rate: float = 200.0, extra: list[str] | None = None) -> None:
        self.data_dir = data_dir
        self.rate = rate
        self.extra = extra or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "demo-sim.log"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "observability.sim", "--data-dir", str(self.data_dir), "--rate",
                str(self.rate), *self.extra]

    def start(self) -> None:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)

    def status(self) -> str:
        if self.proc is None:
            return "demo not started"
        rc = self.proc.poll()
        if rc is None:
            return f"DEMO sim pid {self.proc.pid}"
        return f"DEMO sim EXITED rc={rc} (see {self.log_path})"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (the simulator drains and flushes), then SIGKILL if it does not end in time."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode
