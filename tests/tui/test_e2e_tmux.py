"""End to end in a real terminal: tmux runs huracan-tui against a data dir the simulator is writing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

_FEED_TIME = re.compile(r"^(\d\d:\d\d:\d\d\.\d{3}) (?:DEBU|INFO|WARN|ERRO|CRIT)", re.M)


def _poll(cond: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Tmux:
    def __init__(self, socket: str) -> None:
        self.socket = socket

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True, capture_output=True,
                              text=True).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "tui")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "tui", *keys)

    def alive(self) -> bool:
        return subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", "tui"],
                              capture_output=True).returncode == 0


@pytest.fixture
def simulator(data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-m", "observability.sim", "--data-dir", str(data_dir), "--rate", "300",
                             "--speed", "20", "--duration", "60"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(15)


def test_tui_in_tmux_follows_the_live_feed_and_shows_the_gates(data_dir: Path,
                                                               simulator: subprocess.Popen[bytes]) -> None:
    live = data_dir / "sqlite" / "live.db"
    _poll(live.exists, "the simulator to create live.db")
    tmux = Tmux(f"huracan-e2e-{os.getpid()}")
    command = f"{sys.executable} -m huracan_tui --data-dir {data_dir}"
    tmux.run("new-session", "-d", "-s", "tui", "-x", "100", "-y", "30", command)
    try:
        _poll(lambda: "engine alive" in tmux.screen(), "the engine status in the header")
        _poll(lambda: len(_FEED_TIME.findall(tmux.screen())) >= 5, "feed rows on screen")
        first = max(_FEED_TIME.findall(tmux.screen()))
        _poll(lambda: max(_FEED_TIME.findall(tmux.screen()) or ["0"]) > first, "the feed to advance")
        tmux.keys("g")
        _poll(lambda: "counterfactuals" in tmux.screen() and "spread pass" in tmux.screen(), "the gates screen")
        tmux.keys("3")
        _poll(lambda: "liquidity pass" in tmux.screen(), "gate 3 selected")
        tmux.keys("Escape")
        _poll(lambda: "Gates (pass rate vs target)" in tmux.screen(), "esc back to the overview")
        tmux.keys("q")
        _poll(lambda: not tmux.alive(), "q to quit the app (and end the tmux session)", timeout=15)
    finally:
        if tmux.alive():
            tmux.run("kill-server")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def _pids_using(data_dir: Path) -> list[int]:
    """Live processes whose command line names this data dir (the TUI and its simulator)."""
    out = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if proc.name.isdigit() and str(data_dir) in cmd and _pid_alive(int(proc.name)):
            out.append(int(proc.name))
    return out


def test_demo_runs_the_simulator_and_a_dead_session_stops_both(data_dir: Path) -> None:
    tmux = Tmux(f"huracan-demo-{os.getpid()}")
    command = f"{sys.executable} -m huracan_tui --demo --demo-rate 300 --data-dir {data_dir}"
    tmux.run("new-session", "-d", "-s", "tui", "-x", "100", "-y", "30", command)
    try:
        _poll(lambda: "DEMO sim pid" in tmux.screen() and "engine alive" in tmux.screen(), "the demo to run")
        sim_pid = int(re.search(r"DEMO sim pid (\d+)", tmux.screen()).group(1))  # type: ignore[union-attr]
        tui_pid = int(tmux.run("list-panes", "-t", "tui", "-F", "#{pane_pid}").strip())
        assert _pid_alive(sim_pid)
        tmux.run("kill-session", "-t", "tui")  # the SSH session dies: the pty hangs up
        _poll(lambda: not _pid_alive(tui_pid), "the TUI to exit on hangup", timeout=20)
        _poll(lambda: not _pid_alive(sim_pid), "the demo simulator to be stopped", timeout=20)
        _poll(lambda: not _pids_using(data_dir), "no process of the session left behind", timeout=20)
        assert "simulated" in (data_dir / "demo-sim.log").read_text()  # it flushed and said so on SIGTERM
    finally:
        subprocess.run(["tmux", "-L", tmux.socket, "kill-server"], capture_output=True)
