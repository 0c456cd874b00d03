"""EventLogger end to end against real writer processes and real live.db files."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from core_helpers import fast_config, fault_seam, rows

from observability import EventLogger, SyncEventLogger
from observability.core import builders
from observability.core.live_store import open_live_db
from observability.errors import DataDirError, EventValidationError


def gate(i: int = 0, severity: str = "INFO") -> dict:
    return builders.gate_decision(gate="spread", value=float(i % 10), threshold=5.0, direction="max",
                                  symbol="BTC/USDT", trace_id=f"t{i}", mode="scalp", severity=severity)


async def wait_for(cond, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_logged_events_are_committed_in_order_with_strictly_increasing_seq(data_dir: Path) -> None:
    async with EventLogger(data_dir=data_dir, config=fast_config()) as logger:
        sent = [gate(i) for i in range(3000)]
        for i, ev in enumerate(sent):
            assert logger.log(ev)
            if i % 500 == 0:
                await asyncio.sleep(0)
        assert await logger.flush(timeout=30)
    got = rows(data_dir, "SELECT seq, event_id FROM live_feed ORDER BY seq")
    assert [r[1] for r in got] == [e["event_id"] for e in sent]
    seqs = [r[0] for r in got]
    assert all(b > a for a, b in itertools.pairwise(seqs))


async def test_log_durable_returns_only_after_commit(data_dir: Path) -> None:
    async with EventLogger(data_dir=data_dir, config=fast_config()) as logger:
        ev = gate(1, severity="CRITICAL")
        await logger.log_durable(ev, timeout=20)
        assert rows(data_dir, f"SELECT count(*) FROM live_feed WHERE event_id = '{ev['event_id']}'") == [(1,)]


async def test_health_rows_are_written_about_every_interval(data_dir: Path) -> None:
    async with EventLogger(data_dir=data_dir, config=fast_config()) as logger:
        logger.log(gate())
        await wait_for(lambda: rows(data_dir, "SELECT count(*) FROM health")[0][0] >= 3)
        snap = logger.health()
        assert snap.status == "ok" and snap.writer_alive and snap.queue_maxsize == 10_000
    last = rows(data_dir, "SELECT status, writer_alive, kill_switch FROM health ORDER BY id DESC LIMIT 1")
    assert last == [("ok", 1, 0)]


async def test_invalid_events_go_to_dead_letter_and_nothing_else_is_lost(data_dir: Path) -> None:
    good = [gate(i) for i in range(50)]
    wrong_type = gate(100)
    wrong_type["payload"]["value"] = "high"
    missing = gate(101)
    del missing["payload"]["threshold"]
    unknown = dict(gate(102), event_type="teleport")
    leak = builders.signal_received(signal_id="s", side="long", confidence=0.5, price=1.0, model_id="m",
                                    symbol="X", trace_id="t", decision_timestamp=1_790_000_000.0)
    leak["payload"]["feature_ts"] = {"rsi": 1_790_000_009.0}
    huge = gate(103)
    huge["payload"]["reason"] = "x" * 70_000
    nan = gate(104)
    nan["payload"]["margin"] = float("nan")
    not_an_event = object()
    bad = [wrong_type, missing, unknown, leak, huge, nan, not_an_event]
    async with EventLogger(data_dir=data_dir, config=fast_config()) as logger:
        for ev in good[:25] + bad + good[25:]:
            assert logger.log(ev)
        assert await logger.flush(timeout=30)
        assert logger.health().dead_letter_total == len(bad)
    stored = {r[0] for r in rows(data_dir, "SELECT event_id FROM live_feed")}
    assert stored == {e["event_id"] for e in good}
    errors = dict(rows(data_dir, "SELECT coalesce(event_id, raw), error FROM dead_letter"))
    assert "Input should be a valid number" in errors[wrong_type["event_id"]]
    assert "threshold" in errors[missing["event_id"]] and "Field required" in errors[missing["event_id"]]
    assert "teleport" in errors[unknown["event_id"]]
    assert "feature_ts['rsi']" in errors[leak["event_id"]] and "decision_timestamp" in errors[leak["event_id"]]
    assert any("over the 65536-byte limit" in e for e in errors.values())
    assert "margin" in errors[nan["event_id"]]
    assert any("unserialisable event" in k for k in errors)


async def test_log_durable_of_an_invalid_event_raises_with_the_writer_message(data_dir: Path) -> None:
    async with EventLogger(data_dir=data_dir, config=fast_config()) as logger:
        bad = gate(1, severity="CRITICAL")
        bad["payload"]["value"] = "high"
        with pytest.raises(EventValidationError, match=r"payload\.value"):
            await logger.log_durable(bad, timeout=20)


async def test_kill_switch_calls_back_once_and_is_recorded(data_dir: Path) -> None:
    calls: list[dict] = []
    with fault_seam(data_dir) as fault:
        logger = EventLogger(data_dir=data_dir, config=fast_config(maxsize=200), on_kill_switch=calls.append)
        await logger.start()
    accepted = [logger.log(gate(i, severity="ERROR")) for i in range(5000)]
    # keep logging until the stalled writer has stopped taking events: the queue then stays full
    await wait_for(lambda: logger.health().writer_error is not None)
    deadline = time.monotonic() + 30
    while logger.health().queue_depth < 190:
        assert time.monotonic() < deadline, "the queue never filled"
        for i in range(300):
            logger.log(gate(i, severity="ERROR"))
        await asyncio.sleep(0.01)
    snap = logger.health()
    # It may also have fired (and re-armed below the lower mark) while the pipe was absorbing the
    # first burst; each firing is one callback and one recorded event.
    assert calls and all(c["payload"]["action"] == "fired" for c in calls)
    assert len(calls) == snap.kill_switch_fired_total
    assert logger.kill_switch_active and snap.kill_switch and not all(accepted)
    assert snap.dropped_by_severity.get("ERROR", 0) > 0
    fault.unlink()
    assert await logger.flush(timeout=30)
    await logger.aclose()
    fired = rows(data_dir, "SELECT count(*) FROM live_feed WHERE event_type = 'kill_switch' "
                           "AND json_extract(payload, '$.action') = 'fired'")[0][0]
    assert fired == len(calls)


async def test_disk_full_keeps_critical_events_and_writes_them_once_the_fault_clears(data_dir: Path) -> None:
    with fault_seam(data_dir, active=False) as fault:
        logger = EventLogger(data_dir=data_dir, config=fast_config(maxsize=500))
        await logger.start()
    async with logger:
        before = [gate(i) for i in range(100)]
        for ev in before:
            logger.log(ev)
        assert await logger.flush(timeout=20)
        fault.touch()  # from now on every commit fails as on a full disk
        critical: list[dict] = []
        worst = 0.0
        deadline = time.monotonic() + 60
        i = 0
        # log until the stalled writer has stopped taking events and the kill switch has fired
        while logger.health().kill_switch_fired_total == 0 or len(critical) < 10:
            assert time.monotonic() < deadline, "the kill switch never fired"
            for _ in range(200):
                i += 1
                if i % 400 == 0:
                    ev = gate(i, severity="CRITICAL")
                    critical.append(ev)
                else:
                    ev = gate(i, severity="DEBUG" if i % 2 else "INFO")
                t = time.perf_counter()
                logger.log(ev)
                worst = max(worst, time.perf_counter() - t)
            await asyncio.sleep(0)
        await wait_for(lambda: logger.health().writer_error is not None)
        snap = logger.health()
        assert snap.status == "critical" and snap.kill_switch_fired_total >= 1
        assert "disk is full" in (snap.writer_error or "")
        assert snap.dropped_by_severity.get("DEBUG", 0) > 0 and "CRITICAL" not in snap.dropped_by_severity
        assert worst < 0.5  # log() never blocked on the stalled writer (generous: shared CI box)
        fault.unlink()
        assert await logger.flush(timeout=60)
    stored = {r[0] for r in rows(data_dir, "SELECT event_id FROM live_feed")}
    assert {e["event_id"] for e in before + critical} <= stored
    assert rows(data_dir, "PRAGMA integrity_check") == [("ok",)]


async def test_aclose_is_bounded_and_keeps_unwritten_events_for_the_next_writer(data_dir: Path) -> None:
    with fault_seam(data_dir) as fault:
        logger = EventLogger(data_dir=data_dir, config=fast_config())
        await logger.start()
    sent = [gate(i, severity="WARNING") for i in range(300)]
    for ev in sent:
        logger.log(ev)
    t = time.monotonic()
    report = await logger.aclose(timeout=1.0)
    assert time.monotonic() - t < 8
    assert report.unwritten >= len(sent) and report.fallback_file is not None and report.fallback_file.exists()
    fault.unlink()
    async with EventLogger(data_dir=data_dir, config=fast_config()) as again:
        assert await again.flush(timeout=20)
    stored = [r[0] for r in rows(data_dir, "SELECT event_id FROM live_feed WHERE event_type = 'gate_decision'")]
    assert set(stored) == {e["event_id"] for e in sent} and len(stored) == len(sent)
    assert not list((data_dir / "fallback").glob("*.ndjson"))


async def test_killed_writer_is_restarted_and_no_event_is_lost_or_duplicated(data_dir: Path) -> None:
    async with EventLogger(data_dir=data_dir, config=fast_config()) as logger:
        sent = []
        for i in range(20_000):
            ev = gate(i)
            sent.append(ev)
            while not logger.log(ev):
                await asyncio.sleep(0.001)
            if i == 8_000:
                assert logger._proc is not None
                os.kill(logger._proc.pid, signal.SIGKILL)
            if i % 250 == 0:
                await asyncio.sleep(0)
        assert await logger.flush(timeout=60)
    stored = [r[0] for r in rows(data_dir, "SELECT event_id FROM live_feed WHERE event_type = 'gate_decision'")]
    assert len(stored) == len(set(stored)) == len(sent)


async def test_newer_schema_version_refuses_to_start_with_a_clear_message(data_dir: Path) -> None:
    conn = open_live_db(data_dir / "sqlite" / "live.db")
    conn.execute("UPDATE schema_meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(DataDirError, match=r"schema version 99 is newer .* upgrade the package"):
        await EventLogger(data_dir=data_dir, config=fast_config()).start()


def test_sync_logger_from_many_threads_stores_everything(data_dir: Path) -> None:
    import threading

    with SyncEventLogger(data_dir=data_dir, config=fast_config(maxsize=100_000)) as logger:
        per_thread = 2000

        def produce(k: int) -> None:
            for i in range(per_thread):
                assert logger.log(gate(k * per_thread + i))

        threads = [threading.Thread(target=produce, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        crit = gate(0, severity="CRITICAL")
        logger.log_durable(crit, timeout=20)
        assert logger.flush(timeout=30)
    assert rows(data_dir, "SELECT count(*) FROM live_feed") == [(4 * per_thread + 1,)]


async def test_log_never_raises_on_garbage(data_dir: Path) -> None:
    async with EventLogger(data_dir=data_dir, config=fast_config()) as logger:
        assert logger.log({"severity": "LOUD"}) in (True, False)
        assert logger.log(42)
        assert await logger.flush(timeout=20)
    assert rows(data_dir, "SELECT count(*) FROM dead_letter")[0][0] == 2


def test_data_dir_is_created_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "fresh"
    with SyncEventLogger(data_dir=target, config=fast_config()):
        pass
    assert (target.stat().st_mode & 0o777) == 0o700
    assert sqlite3.connect(target / "sqlite" / "live.db").execute("PRAGMA journal_mode").fetchone() == ("wal",)
