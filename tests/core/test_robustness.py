"""Regression tests for defects found in review: odd timestamps, closing while the writer is down,
abandoned durable waiters, bounded sync close, broken fallback files, non-database files."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from core_helpers import fast_config, fault_seam, rows

from observability import EventLogger, SyncEventLogger
from observability.core import builders
from observability.core.event_logger import LoggerClosedError
from observability.core.live_store import open_readonly
from observability.errors import DataDirError, EventValidationError


def err(msg: str = "m", severity: str = "ERROR") -> dict:
    return builders.error(component="c", error_type="e", message=msg, severity=severity)


async def test_timestamps_pydantic_accepts_are_stored_as_it_reads_them(data_dir: Path) -> None:
    as_string = dict(err("string"), ts_event="1764180000")
    as_millis = dict(err("millis"), ts_event=1_764_180_000_500.0)
    async with EventLogger(data_dir=data_dir, config=fast_config()) as logger:
        logger.log(as_string)
        await logger.log_durable(dict(as_millis, severity="CRITICAL"), timeout=20)
    got = dict(rows(data_dir, "SELECT json_extract(payload, '$.message'), ts_event FROM live_feed"))
    assert got == {"string": 1_764_180_000_000_000, "millis": 1_764_180_000_500_000}


def test_builders_reject_timestamps_that_are_not_unix_seconds_and_non_finite_optionals() -> None:
    with pytest.raises(EventValidationError, match="ts_event must be unix seconds"):
        builders.error(component="c", error_type="e", message="m", ts_event=1.7e13)
    with pytest.raises(EventValidationError, match="bid must be a finite number"):
        builders.market_context(symbol="X", price=1.0, spread_bps=1.0, volatility_bps=1.0, bid=float("nan"))


async def test_aclose_while_the_writer_is_down_keeps_everything_in_the_fallback(data_dir: Path) -> None:
    logger = EventLogger(data_dir=data_dir, config=fast_config())
    await logger.start()
    assert logger._proc is not None
    logger._proc.kill()
    deadline = time.monotonic() + 20
    while logger.health().writer_alive:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    sent = [err(str(i)) for i in range(100)]
    for ev in sent:
        logger.log(ev)
    report = await logger.aclose(timeout=0.1)  # shorter than the restart back-off: the writer stays down
    assert report.unwritten >= 100 and report.fallback_file is not None
    assert not logger.log(err("after close"))
    assert logger.health().dropped_total == 1
    async with EventLogger(data_dir=data_dir, config=fast_config()) as again:
        deadline = time.monotonic() + 20
        while rows(data_dir, "SELECT count(*) FROM live_feed WHERE event_type = 'error'")[0][0] < 100:
            assert time.monotonic() < deadline, "fallback events were not replayed"
            await asyncio.sleep(0.05)
        await again.flush(10)


async def test_a_durable_caller_is_never_left_waiting_after_close(data_dir: Path) -> None:
    with fault_seam(data_dir) as fault:
        logger = EventLogger(data_dir=data_dir, config=fast_config(maxsize=100))
        await logger.start()
    for i in range(20_000):  # fill the pipe and the queue so the durable event stays queued
        logger.log(err(str(i), severity="ERROR"))
        if i % 500 == 0:
            await asyncio.sleep(0)
    waiter = asyncio.ensure_future(logger.log_durable(err("durable", severity="CRITICAL")))
    await asyncio.sleep(0.05)
    await logger.aclose(timeout=1)
    with pytest.raises(LoggerClosedError):
        await asyncio.wait_for(waiter, 10)
    fault.unlink()


def test_sync_close_is_bounded_while_the_writer_is_stalled(data_dir: Path) -> None:
    with fault_seam(data_dir) as fault:
        logger = SyncEventLogger(data_dir=data_dir, config=fast_config(maxsize=100_000))
        logger.start()
    for i in range(40_000):
        logger.log(err(str(i)))
    t = time.monotonic()
    report = logger.close(timeout=2)
    assert time.monotonic() - t < 10
    assert report.unwritten > 0 and report.fallback_file is not None
    fault.unlink()


async def test_a_broken_fallback_file_is_set_aside_and_the_writer_still_starts(data_dir: Path) -> None:
    (data_dir / "fallback" / "unwritten-1-1.ndjson").write_bytes(b'{"not": "an event"\n\xff\xfe{garbage\n')
    async with EventLogger(data_dir=data_dir, config=fast_config()) as logger:
        await logger.log_durable(err("alive", severity="CRITICAL"), timeout=20)
        deadline = time.monotonic() + 20
        while list((data_dir / "fallback").glob("*.ndjson")):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    assert rows(data_dir, "SELECT count(*) FROM dead_letter")[0][0] >= 1


def test_a_file_that_is_not_a_database_is_a_clear_error_for_readers(tmp_path: Path) -> None:
    bad = tmp_path / "live.db"
    bad.write_bytes(b"garbage" * 1000)
    with pytest.raises(DataDirError, match="not a readable live feed database"):
        open_readonly(bad)
