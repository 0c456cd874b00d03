"""The export spool: rows the writer typed export exactly as rows typed from live.db, and a spool that is
missing, torn, stale or capped costs speed, never a row (real SQLite, real Arrow IPC, real writer process)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.dataset as ds
from storage_helpers import every_type, gate_events, spool_in_batches, store

from observability import SyncEventLogger
from observability.config.observability_config import ExportConfig, ObservabilityConfig
from observability.core.ingest import ingest_events
from observability.core.io.exporter import export_once
from observability.core.io.spool import SpoolWriter, remove_dead_segments
from observability.core.live_store import open_live_db
from observability.core.schemas import PAYLOAD_CLASSES
from observability.core.writer_process import Writer
from observability.paths import DataLayout
from observability.sim.generate import generate_events


def exported(layout: DataLayout) -> pa.Table:
    return ds.dataset(str(layout.parquet_events), partitioning="hive").to_table().sort_by("seq")


def assert_same_rows(a: pa.Table, b: pa.Table) -> None:
    """Every column equal; payload_rest equal as JSON (the JSON path re-renders numbers, the spool keeps the
    engine's text)."""
    assert a.num_rows == b.num_rows and a.schema == b.schema
    for name in a.column_names:
        if name == "payload_rest":
            assert [None if v is None else json.loads(v) for v in a[name].to_pylist()] == [
                None if v is None else json.loads(v) for v in b[name].to_pylist()]
        else:
            assert a[name].equals(b[name]), name


def export_both_ways(layout: DataLayout, tmp_path: Path) -> tuple[int, pa.Table, pa.Table]:
    """(rows from the spool, the spool-aided export, an export of a copy that reads every row from live.db)."""
    plain = DataLayout(tmp_path / "plain")
    shutil.copytree(layout.root, plain.root)
    spooled = export_once(layout, spool_min_run=1)  # every spooled run, however short (see the last test)
    reference = export_once(plain, use_spool=False)
    assert reference.from_spool == 0 and reference.rows == spooled.rows
    return spooled.from_spool, exported(layout), exported(plain)


def test_rows_exported_from_the_spool_equal_rows_typed_from_live_db(layout: DataLayout, tmp_path: Path) -> None:
    events = every_type()
    for i in range(0, len(events), 700):
        store(layout, events[i:i + 700], spooled=True)
    from_spool, table, reference = export_both_ways(layout, tmp_path)
    assert from_spool == len(events)
    assert set(table["event_type"].to_pylist()) == set(PAYLOAD_CLASSES)
    assert_same_rows(table, reference)
    assert not list(layout.export_spool_dir.iterdir())  # exported segments are removed


def test_a_spool_from_another_live_db_is_not_taken_for_this_ones_rows(layout: DataLayout, tmp_path: Path) -> None:
    other = DataLayout(tmp_path / "other").ensure()
    events = gate_events(300)
    store(other, events, spooled=True)
    store(layout, events)  # the very same events under the same seqs, stored at another time
    shutil.copytree(other.export_spool_dir, layout.export_spool_dir)
    from_spool, table, reference = export_both_ways(layout, tmp_path)
    assert from_spool == 0
    assert_same_rows(table, reference)


def test_files_written_from_a_spool_that_fails_its_check_are_removed_and_the_rows_exported_from_live_db(
        layout: DataLayout, tmp_path: Path) -> None:
    """The check against live.db runs while the files are written: a failed one must cost the files, and
    neither move the watermark nor leave a file behind."""
    store(layout, gate_events(300), spooled=True)
    conn = open_live_db(layout.live_db)
    with conn:
        conn.execute("UPDATE live_feed SET ts_stored = ts_stored + 1 WHERE seq = 300")
    conn.close()
    result = export_once(layout, spool_min_run=1)
    assert result.rows == 300 and result.from_spool == 299 and result.watermark == 300
    assert result.reconciled_files == result.files == 3  # the first, failed pass wrote each partition's file
    assert exported(layout)["seq"].to_pylist() == list(range(1, 301))


def test_spooled_rows_are_taken_up_to_the_first_row_live_db_holds_otherwise(layout: DataLayout, tmp_path: Path) -> None:
    store(layout, gate_events(300), spooled=True)
    store(layout, gate_events(300, start=300), spooled=True)
    segments = sorted(layout.export_spool_dir.iterdir())
    conn = open_live_db(layout.live_db)  # as a restore of an older live.db would: the same seqs, other rows
    with conn:
        conn.execute("UPDATE live_feed SET ts_stored = ts_stored + 1 WHERE seq = 451")
    conn.close()
    from_spool, table, reference = export_both_ways(layout, tmp_path)
    assert from_spool == 450 and len(segments) == 2
    assert_same_rows(table, reference)


def test_a_torn_spool_stream_costs_speed_not_rows(layout: DataLayout, tmp_path: Path) -> None:
    spool_in_batches(layout, gate_events(2000), 200, flush_rows=1)
    [segment] = list(layout.export_spool_dir.iterdir())
    stream = segment / "gate_decision.arrows"
    stream.write_bytes(stream.read_bytes()[: stream.stat().st_size // 2])
    from_spool, table, reference = export_both_ways(layout, tmp_path)
    assert 0 < from_spool < 2000
    assert_same_rows(table, reference)
    assert table["seq"].to_pylist() == list(range(1, 2001))


def test_a_batch_with_a_row_only_pydantic_accepts_is_not_spooled_and_exports_from_live_db(
    layout: DataLayout, tmp_path: Path,
) -> None:
    odd = gate_events(50, start=100)
    odd[10]["ts_event"] = "2025-11-26T01:00:00+00:00"  # valid, but not for the writer's fast check
    spool_in_batches(layout, gate_events(100) + odd + gate_events(100, start=150), 50)
    [segment] = list(layout.export_spool_dir.iterdir())  # one segment, with a gap where that batch was
    assert segment.name == f"{1:020d}-{250:020d}"
    from_spool, table, reference = export_both_ways(layout, tmp_path)
    assert from_spool == 200
    assert_same_rows(table, reference)


def test_duplicates_ignored_by_live_db_leave_their_batch_unspooled(layout: DataLayout, tmp_path: Path) -> None:
    events = gate_events(100)
    store(layout, events, spooled=True)
    spool = SpoolWriter(layout.export_spool_dir)
    conn = open_live_db(layout.live_db)
    stored, _ = ingest_events(conn, events[-5:] + gate_events(20, start=100), spool)  # 5 replayed
    conn.close()
    spool.close()
    assert stored == 25 and spool.skipped_rows == 25
    from_spool, table, reference = export_both_ways(layout, tmp_path)
    assert from_spool == 100 and table.num_rows == 120
    assert_same_rows(table, reference)


def test_the_spool_stops_at_its_cap_and_the_export_still_has_every_row(layout: DataLayout, tmp_path: Path) -> None:
    spool = SpoolWriter(layout.export_spool_dir, segment_rows=100, max_bytes=1, flush_rows=1)
    conn = open_live_db(layout.live_db)
    for i in range(0, 1000, 100):
        ingest_events(conn, gate_events(100, start=i), spool)
    conn.close()
    spool.close()
    assert spool.skipped_rows == 900  # the first segment reached the cap
    from_spool, table, reference = export_both_ways(layout, tmp_path)
    assert from_spool == 100 and table.num_rows == 1000
    assert_same_rows(table, reference)


HOLD = """
import sys, time
from pathlib import Path
from observability.core.ingest import ingest_events
from observability.core.io.spool import SpoolWriter
from observability.core.live_store import open_live_db
sys.path.insert(0, sys.argv[2])
from storage_helpers import gate_events
root = Path(sys.argv[1])
spool = SpoolWriter(root / "sqlite" / "export-spool")
ingest_events(open_live_db(root / "sqlite" / "live.db"), gate_events(50), spool)
spool.flush()
print("open", flush=True)
time.sleep(60)
"""


def test_an_open_segment_is_kept_while_its_writer_lives_and_removed_after_kill_9(layout: DataLayout) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(layout.root), str(Path(__file__).parent)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
        [segment] = list(layout.export_spool_dir.iterdir())
        assert segment.name.endswith(".open")
        assert remove_dead_segments(layout.export_spool_dir) == 0 and segment.exists()
        result = export_once(layout)  # an open segment is read, never deleted, by the exporter
        assert result.from_spool == 50 and segment.exists()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    SpoolWriter(layout.export_spool_dir)  # what a writer does when it starts
    assert not list(layout.export_spool_dir.iterdir())


def quiet_export(spool: bool) -> ObservabilityConfig:
    """The writer's upkeep would export on its own schedule; here the test exports when it chooses."""
    return ObservabilityConfig(export=ExportConfig(every_seconds=3600.0, every_rows=10_000_000, spool=spool))


def test_the_writer_process_spools_what_it_commits(layout: DataLayout, tmp_path: Path) -> None:
    events = every_type()
    with SyncEventLogger(data_dir=layout.root, config=quiet_export(True)) as logger:
        for i in range(0, len(events), 100):  # small commits, one at a time: the writer has time to spool
            for ev in events[i:i + 100]:
                assert logger.log(ev)
            logger.flush()
    assert [p.name for p in layout.export_spool_dir.iterdir() if not p.name.endswith(".open")]
    from_spool, table, reference = export_both_ways(layout, tmp_path)
    assert from_spool > 0  # all of them, but on a busy box a batch that finds the next one waiting is left out
    assert_same_rows(table, reference)


def test_a_writer_told_not_to_spool_keeps_no_spool(layout: DataLayout) -> None:
    with SyncEventLogger(data_dir=layout.root, config=quiet_export(False)) as logger:
        for ev in gate_events(50):
            assert logger.log(ev)
        logger.flush()
    assert not layout.export_spool_dir.exists()
    result = export_once(layout)
    assert result.rows == 50 and result.from_spool == 0


def test_a_writer_with_no_time_to_spare_leaves_its_batch_to_live_db(layout: DataLayout, tmp_path: Path) -> None:
    conn = open_live_db(layout.live_db)
    writer = Writer(conn, layout, ObservabilityConfig())
    assert writer.spool is not None
    lines = [orjson.dumps(ev) for ev in gate_events(100)]
    writer.store(writer.prepare(lines[:50], []))
    writer.spool.flush()  # as the writer does when idle
    writer._batches.put(None)  # a validated batch already waits for the commit thread: the writer is behind
    writer.store(writer.prepare(lines[50:], []))
    writer.spool.close()
    conn.close()
    assert writer.spool.skipped_rows == 50
    from_spool, table, reference = export_both_ways(layout, tmp_path)
    assert from_spool == 50 and table.num_rows == 100
    assert_same_rows(table, reference)


def test_a_spool_that_cannot_be_written_is_dropped_without_an_error(layout: DataLayout, tmp_path: Path) -> None:
    spool = SpoolWriter(layout.export_spool_dir, segment_rows=100, flush_rows=1)
    conn = open_live_db(layout.live_db)
    ingest_events(conn, gate_events(40), spool)
    shutil.rmtree(layout.export_spool_dir)  # as a full disk or a removed directory would: no stream can be created
    trades = [ev for ev in generate_events(seed=2, sim_seconds=60.0, events_per_second=20.0)
              if ev["event_type"] == "trade_opened"]
    ingest_events(conn, trades, spool)
    for start in range(40, 340, 50):  # spooling resumes a segment's worth of rows later
        ingest_events(conn, gate_events(50, start=start), spool)
    conn.close()
    spool.close()
    assert spool.skipped_rows == len(trades) + 50
    from_spool, table, reference = export_both_ways(layout, tmp_path)
    assert from_spool == 250 and table.num_rows == 340 + len(trades)
    assert_same_rows(table, reference)


def test_short_spooled_runs_between_rows_the_spool_lacks_are_read_from_live_db(layout: DataLayout) -> None:
    """A writer often behind spools every other batch: typing each short gap alone cost more than typing it all."""
    spool = SpoolWriter(layout.export_spool_dir, flush_rows=1)
    conn = open_live_db(layout.live_db)
    for k in range(10):
        batch = gate_events(100, start=100 * k)
        if k % 2:
            ingest_events(conn, batch, spool)
        else:
            ingest_events(conn, batch)
            spool.skip(len(batch))
    conn.close()
    spool.close()
    result = export_once(layout)
    assert result.rows == 1000 and result.from_spool == 0
    assert exported(layout)["seq"].to_pylist() == list(range(1, 1001))

