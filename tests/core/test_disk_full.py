"""A real full disk: live.db on a 2 MiB tmpfs that fills up, then grows (remount) so the fault clears."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from core_helpers import fast_config, rows

from observability import EventLogger
from observability.core import builders
from observability.core.writer_link import FallbackError, write_fallback
from observability.paths import DataLayout


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
        while (logger.health().kill_switch_fired_total == 0 or logger.health().writer_error is None
               or logger.health().dropped_total == 0):
            assert time.monotonic() < deadline, "disk never full, kill switch never fired or nothing dropped"
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


async def test_events_a_full_data_disk_cannot_take_at_close_are_kept_elsewhere_and_replayed(
    tiny_fs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spare_tmp = tmp_path / "system-tmp"  # the spare place lives in the system temp dir: isolate it
    spare_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(spare_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(spare_tmp))
    data_dir = tiny_fs / "data"
    sent: list[str] = []
    async with EventLogger(data_dir=data_dir, config=fast_config()) as logger:
        deadline = time.monotonic() + 60
        while logger.health().writer_error is None:
            assert time.monotonic() < deadline, "the disk never filled"
            for _ in range(200):
                ev = builders.gate_decision(gate="spread", value=1.0, threshold=5.0, direction="max",
                                            symbol="BTC/USDT", trace_id=f"t{len(sent)}", mode="scalp",
                                            severity="CRITICAL", reason="x" * 300)
                sent.append(ev["event_id"])
                logger.log(ev)
            await asyncio.sleep(0)
        report = await logger.aclose(timeout=1.0)
    assert report.error is None and report.unwritten > 0 and report.fallback_file is not None
    assert report.fallback_file.parent == DataLayout(data_dir).spare_fallback_dir  # the data disk had no room
    subprocess.run(["mount", "-o", "remount,size=256m", str(tiny_fs)], check=True)
    async with EventLogger(data_dir=data_dir, config=fast_config()) as logger:  # replays both places
        deadline = time.monotonic() + 60
        while set(sent) - {r[0] for r in rows(data_dir, "SELECT event_id FROM live_feed")}:
            assert time.monotonic() < deadline, "the kept events were never replayed"
            await asyncio.sleep(0.1)
    assert not report.fallback_file.exists()


def test_when_no_place_can_keep_them_close_says_how_many_were_lost_and_why(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    layout = DataLayout(tmp_path / "data")
    for folder in layout.fallback_dirs:  # both places unwritable: a file where each folder should be
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.write_bytes(b"")
    with pytest.raises(FallbackError, match=r"^2 unwritten events could not be kept .*free disk space"):
        write_fallback(layout, [b'{"event_id":"a"}\n{"event_id":"b"}\n'])
