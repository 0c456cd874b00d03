"""The simulator through the real logger: in-process, as `huracan-obs demo`, and as a background process."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from observability.core.live_store import open_readonly
from observability.core.registry import Registry
from observability.paths import DataLayout
from observability.sim.runner import SimProgress, run_simulation


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("HURACAN_")}


def _count(layout: DataLayout) -> int:
    conn = open_readonly(layout.live_db)
    try:
        return int(conn.execute("SELECT count(*) FROM live_feed").fetchone()[0])
    finally:
        conn.close()


async def test_run_simulation_writes_everything_it_generated(layout: DataLayout) -> None:
    seen: list[SimProgress] = []
    summary = await run_simulation(layout.root, seed=3, rate=3_000, duration=1.0, speed=200, on_progress=seen.append,
                                   progress_every=0.1)
    assert summary.events > 500 and summary.dropped == 0 and 100 < summary.sim_seconds <= 200
    assert summary.close_report is not None and summary.close_report.unwritten == 0
    assert _count(layout) == summary.events
    assert seen and seen[-1].events == summary.events and seen[-1].writer_alive
    with Registry(layout, readonly=True) as reg:
        assert reg.aliases().get("champion") and reg.config_changes()


def test_demo_command_exits_0_and_leaves_a_readable_live_db(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    proc = subprocess.run(
        [sys.executable, "-m", "observability.cli.main", "demo", "--data-dir", str(data), "--duration", "5",
         "--rate", "400", "--speed", "10"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr
    assert "demo done:" in proc.stdout and ", 0 dropped" in proc.stdout
    layout = DataLayout(data)
    conn = open_readonly(layout.live_db)
    types = {r[0] for r in conn.execute("SELECT DISTINCT event_type FROM live_feed")}
    conn.close()
    assert {"signal_received", "gate_decision", "trade_opened", "shadow_trade_opened", "market_context",
            "model_updated", "config_changed"} <= types
    assert oct(data.stat().st_mode & 0o777) == "0o700"


def test_background_simulator_stops_on_sigterm_with_everything_flushed(tmp_path: Path) -> None:
    data = tmp_path / "bg"
    proc = subprocess.Popen(
        [sys.executable, "-m", "observability.sim", "--data-dir", str(data), "--rate", "500", "--speed", "5"],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    layout = DataLayout(data)
    deadline = time.monotonic() + 60
    try:
        while True:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no events reached live.db within 60 s"
            try:
                if _count(layout) >= 200:
                    break
            except (sqlite3.Error, Exception):
                pass
            time.sleep(0.05)  # polling a file another process writes: no event to await
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    logged = int(err.rsplit(": ", 1)[1].split(" events")[0].replace(",", ""))
    assert ", 0 dropped" in err and _count(layout) == logged


@pytest.mark.parametrize(("args", "message"), [
    (["--rate", "0"], "--rate must be between 0 and 1,000,000 events/s, got 0.0"),
    (["--symbols", " , "], "--symbols needs at least one non-empty symbol"),
    (["--duration", "nan"], "--duration must be a finite number of seconds > 0"),
])
def test_bad_demo_arguments_are_one_line_errors(tmp_path: Path, args: list[str], message: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "observability.cli.main", "demo", "--data-dir",
                           str(tmp_path / "d"), "--duration", "1", *args],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"huracan-obs: error: {message}")
    assert proc.stdout == ""


def test_a_broken_gates_file_stops_the_demo_with_its_line(tmp_path: Path) -> None:
    gates = tmp_path / "gates.yaml"
    gates.write_text("gates:\n  spread:\n    order: 1\n    threshold: wide\n")
    proc = subprocess.run([sys.executable, "-m", "observability.cli.main", "demo", "--data-dir", str(tmp_path / "d"),
                           "--duration", "1", "--gates", str(gates)],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"{gates}:4: gates.spread.threshold:" in proc.stderr and "'wide'" in proc.stderr


def _as_foreground() -> None:
    """A command typed in a terminal starts with SIGINT at its default, even when this test runs in a
    background job (which inherits SIGINT ignored, and would pass that on to the demo)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_while_the_demo_is_still_starting_prints_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "observability.cli.main", "demo", "--data-dir", str(tmp_path / "d"),
                             "--rate", "100"], cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_as_foreground)
    maps = Path(f"/proc/{proc.pid}/maps")
    deadline = time.monotonic() + 60
    # pydantic-core's library is mapped while the CLI imports its command modules (seconds on a busy box):
    # interrupt then, as a user pressing Ctrl-C right after Enter would
    while "pydantic_core" not in maps.read_text() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)  # polling another process's state: nothing to await
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err
    assert proc.returncode in (0, 130, -signal.SIGINT), err


def test_a_data_dir_that_is_a_file_is_a_one_line_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("I am a file")
    proc = subprocess.run([sys.executable, "-m", "observability.cli.main", "demo", "--data-dir", str(not_a_dir),
                           "--duration", "1"], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"huracan-obs: error: {not_a_dir}: cannot create the data directory")
    assert not_a_dir.read_text() == "I am a file"
