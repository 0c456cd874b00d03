"""A real full disk: live.db on a 2 MiB tmpfs that fills up, then grows (remount) so the fault clears."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from core_helpers import fast_config

from observability import EventLogger
from observability.core import builders


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {res.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


async def test_a_full_disk_degrades_health_keeps_critical_events_and_recovers(tiny_fs: Path) -> None:
    data_dir = tiny_fs / "data"
    critical: list[str] = []
    worst = 0.0
    async with EventLogger(data_dir=data_dir, config=fast_config()) as logger:
        deadline = time.monotonic() + 60
        i = 0
        while logger.health().kill_switch_fired_total == 0 or logger.health().writer_error is None:
            assert time.monotonic() < deadline, "the disk never filled or the kill switch never fired"
            for _ in range(200):
                i += 1
                sev = "CRITICAL" if i % 500 == 0 else "WARNING"
                ev = builders.gate_decision(gate="spread", value=1.0, threshold=5.0, direction="max",
                                            symbol="BTC/USDT", trace_id=f"t{i}", mode="scalp", severity=sev,
                                            reason="x" * 300)
                if sev == "CRITICAL":
                    critical.append(ev["event_id"])
                t = time.perf_counter()
                logger.log(ev)
                worst = max(worst, time.perf_counter() - t)
            await asyncio.sleep(0)
        snap = logger.health()
        assert snap.status == "critical" and "full" in (snap.writer_error or "")
        assert snap.dropped_total > 0 and "CRITICAL" not in snap.dropped_by_severity
        assert worst < 0.5  # log() never waited on the full disk (generous: a shared, loaded CI box)
        subprocess.run(["mount", "-o", "remount,size=256m", str(tiny_fs)], check=True)
        assert await logger.flush(timeout=120)
        assert logger.health().writer_error is None
    conn = sqlite3.connect(data_dir / "sqlite" / "live.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = {r[0] for r in conn.execute("SELECT event_id FROM live_feed")}
    finally:
        conn.close()
    assert set(critical) <= stored
