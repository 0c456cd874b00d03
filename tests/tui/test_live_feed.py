"""live_feed: a read-only tail of live.db that delivers every row once, in order, with bounded memory."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from observability.analytics.live_feed import FeedFilter, FeedRow, FeedState, FeedThread, LiveFeed
from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.live_store import open_live_db, prune_live_feed
from observability.errors import EventValidationError, SchemaVersionError
from observability.paths import DataLayout

from .fixture_data import T0, health_row, populate, write_health


def _events(n: int, start: int = 0, *, symbol: str = "BTCUSDT") -> list[dict[str, object]]:
    out = []
    for i in range(start, start + n):
        ev = builders.gate_decision(gate="spread", value=float(i % 20), threshold=8.0, direction="max",
                                    symbol=symbol, trace_id=f"t{i}", ts_event=T0 + i)
        ev["event_id"] = f"e-{symbol}-{i:07d}"
        out.append(ev)
    return out


def _drain(feed: LiveFeed) -> list[FeedRow]:
    out: list[FeedRow] = []
    while True:
        batch = feed.poll()
        if not batch.rows:
            return out
        out.extend(batch.rows)


def test_delivers_every_row_once_in_order_across_writer_restarts_and_pruning(layout: DataLayout) -> None:
    writer = open_live_db(layout.live_db)
    ingest_events(writer, _events(500))
    feed = LiveFeed(layout.live_db, after_seq=0, batch_size=64)
    seen = _drain(feed)
    writer.close()  # the engine stops ...
    writer = open_live_db(layout.live_db)  # ... and restarts: seq continues
    ingest_events(writer, _events(300, 500))
    seen += feed.poll().rows  # part of the backlog
    prune_live_feed(writer, older_than_us=int((T0 + 10_000) * 1e6), max_seq_inclusive=seen[-1].seq)
    ingest_events(writer, _events(200, 800))
    seen += _drain(feed)
    writer.close()
    seqs = [r.seq for r in seen]
    assert seqs == sorted(set(seqs))
    assert [r.event_id for r in seen] == [f"e-BTCUSDT-{i:07d}" for i in range(1000)]


def test_waits_for_a_missing_database_then_reads_it_from_the_start(layout: DataLayout) -> None:
    feed = LiveFeed(layout.live_db)
    batch = feed.poll()
    assert batch.state is FeedState.WAITING
    assert "waiting for" in batch.message
    writer = open_live_db(layout.live_db)
    ingest_events(writer, _events(10))
    feed2 = LiveFeed(layout.live_db, after_seq=0)
    assert [r.seq for r in _drain(feed2)] == list(range(1, 11))
    writer.close()


def test_a_replaced_database_is_read_from_its_start_and_reported(layout: DataLayout) -> None:
    writer = open_live_db(layout.live_db)
    ingest_events(writer, _events(5))
    writer.close()
    feed = LiveFeed(layout.live_db, after_seq=0)
    assert len(_drain(feed)) == 5
    for suffix in ("", "-wal", "-shm"):
        Path(f"{layout.live_db}{suffix}").unlink(missing_ok=True)
    writer = open_live_db(layout.live_db)
    ingest_events(writer, _events(3, symbol="ETHUSDT"))
    writer.close()
    batch = feed.poll()
    assert batch.state is FeedState.REPLACED
    assert [r.event_id for r in batch.rows] == [f"e-ETHUSDT-{i:07d}" for i in range(3)]


def test_starts_from_the_end_from_a_seq_or_from_a_time(layout: DataLayout) -> None:
    writer = open_live_db(layout.live_db)
    ingest_events(writer, _events(50))
    tail = LiveFeed(layout.live_db)
    from_seq = LiveFeed(layout.live_db, after_seq=40)
    from_time = LiveFeed(layout.live_db, since_us=int((T0 + 45) * 1e6))
    assert tail.poll().rows == []
    assert [r.seq for r in from_seq.poll().rows] == list(range(41, 51))
    assert [r.seq for r in from_time.poll().rows] == list(range(46, 51))
    ingest_events(writer, _events(2, 50))
    assert [r.seq for r in tail.poll().rows] == [51, 52]
    writer.close()


def test_filters_by_type_symbol_mode_severity_text_and_inverts(layout: DataLayout) -> None:
    populate(layout)
    everything = _drain(LiveFeed(layout.live_db, after_seq=0))
    cases = [
        FeedFilter(event_types=frozenset({"trade_closed"})),
        FeedFilter(symbols=frozenset({"ETHUSDT"}), modes=frozenset({"runner"})),
        FeedFilter(min_severity="WARNING"),
        FeedFilter(text="stop_loss"),
        FeedFilter(event_types=frozenset({"gate_decision"}), invert=True),
    ]
    for flt in cases:
        got = _drain(LiveFeed(layout.live_db, filter=flt, after_seq=0))
        expected = [r for r in everything if flt.matches(r)]
        assert got == expected and got, flt
    assert all(r.event_type != "gate_decision" for r in _drain(LiveFeed(layout.live_db, filter=cases[-1], after_seq=0)))
    assert {r.event_type for r in _drain(LiveFeed(layout.live_db, filter=cases[2], after_seq=0))} == {
        "config_changed", "error"}


def test_unknown_severity_filter_is_a_clear_error() -> None:
    with pytest.raises(EventValidationError, match="severity filter must be one of"):
        FeedFilter(min_severity="LOUD")


def test_coalesce_jumps_to_the_newest_rows_and_counts_the_skipped(layout: DataLayout) -> None:
    writer = open_live_db(layout.live_db)
    ingest_events(writer, _events(1000))
    feed = LiveFeed(layout.live_db, after_seq=0, batch_size=100, coalesce=True)
    batch = feed.poll()
    assert [r.seq for r in batch.rows] == list(range(901, 1001))
    assert batch.coalesced == 900
    assert feed.poll().rows == []
    writer.close()


def test_memory_stays_bounded_when_the_consumer_is_slow(layout: DataLayout) -> None:
    writer = open_live_db(layout.live_db)
    feed = LiveFeed(layout.live_db, after_seq=0, batch_size=100)
    with FeedThread(feed, max_batches=2, interval_s=0.01) as reader:
        for k in range(20):
            ingest_events(writer, _events(1000, k * 1000))
        # the consumer has not taken anything yet: the reader must have stopped at 2 batches (+1 in hand)
        assert reader.batches.qsize() <= 2
        assert feed.last_seq <= 3 * 100
        got: list[int] = []
        while len(got) < 20_000:
            batch = reader.get(timeout=10)
            assert batch is not None, f"reader stalled after {len(got)} rows: {reader.error!r}"
            assert reader.batches.qsize() <= 2
            got.extend(r.seq for r in batch.rows)
    assert got == list(range(1, 20_001))
    writer.close()


def test_the_reader_cannot_write(layout: DataLayout) -> None:
    populate(layout)
    feed = LiveFeed(layout.live_db, after_seq=0)
    feed.poll()
    assert feed.connection is not None
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        feed.connection.execute("DELETE FROM live_feed")


def test_newer_schema_version_raises_a_clear_error(layout: DataLayout) -> None:
    writer = open_live_db(layout.live_db)
    writer.execute("UPDATE schema_meta SET value = '99' WHERE key = 'schema_version'")
    writer.close()
    with pytest.raises(SchemaVersionError, match="newer than this"):
        LiveFeed(layout.live_db).poll()


def test_schema_error_ends_the_thread_and_is_handed_to_the_consumer(layout: DataLayout) -> None:
    writer = open_live_db(layout.live_db)
    writer.execute("UPDATE schema_meta SET value = '99' WHERE key = 'schema_version'")
    writer.close()
    reader = FeedThread(LiveFeed(layout.live_db), interval_s=0.01).start()
    reader.stop()
    assert isinstance(reader.error, SchemaVersionError)


def test_health_latest_and_recent(layout: DataLayout) -> None:
    populate(layout, n_signals=3)
    writer = open_live_db(layout.live_db)
    write_health(writer, [health_row(T0 + 500, status="degraded", fill=0.8, dropped={"DEBUG": 7}, kill_switch=True)])
    writer.close()
    feed = LiveFeed(layout.live_db)
    h = feed.read_health_latest()
    assert h is not None
    assert (h.status, h.fill_ratio, h.dropped_by_severity, h.kill_switch) == ("degraded", 0.8, {"DEBUG": 7}, True)
    assert h.ts.timestamp() == T0 + 500
    recent = feed.read_recent(5)
    assert len(recent) == 5 and recent == sorted(recent, key=lambda r: r.seq)
    assert feed.read_before(recent[0].seq, 3)[-1].seq < recent[0].seq
    assert LiveFeed(layout.root / "nope.db").read_health_latest() is None


def test_reading_leaves_the_database_file_untouched(layout: DataLayout) -> None:
    populate(layout)
    writer_files = {p: os.stat(p).st_mtime_ns for p in layout.sqlite_dir.iterdir() if p.name == "live.db"}
    _drain(LiveFeed(layout.live_db, after_seq=0))
    assert {p: os.stat(p).st_mtime_ns for p in writer_files} == writer_files


def test_the_feed_reader_and_the_whole_library_never_import_textual() -> None:
    import subprocess
    import sys

    code = ("import sys, pkgutil, importlib, observability\n"
            "import observability.analytics.live_feed\n"
            "for m in pkgutil.walk_packages(observability.__path__, 'observability.'):\n"
            "    if not m.name.endswith('__main__'):\n"
            "        importlib.import_module(m.name)\n"
            "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('textual', 'huracan_tui'))\n"
            "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
