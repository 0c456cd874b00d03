"""A bounded demo faster than real time ends at about now: no event carries a future timestamp."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from observability.sim.runner import run_simulation


async def test_a_fast_bounded_run_never_stamps_events_in_the_future(data_dir: Path) -> None:
    await run_simulation(data_dir, rate=300, duration=2.0, speed=20.0, use_registry=False)
    conn = sqlite3.connect(data_dir / "sqlite" / "live.db")
    (newest,) = conn.execute("SELECT max(ts_event) FROM live_feed").fetchone()
    (oldest,) = conn.execute("SELECT min(ts_event) FROM live_feed").fetchone()
    conn.close()
    now_us = time.time() * 1e6
    assert newest <= now_us + 1e6  # within a second of now, not 38 s ahead
    assert newest - oldest > 20e6  # yet ~40 simulated seconds were covered
