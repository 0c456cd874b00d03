"""A reader's new live rows typed from the export spool are the rows it would type from live.db itself
(real SQLite read transactions, real Arrow IPC spool, real DuckDB)."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
from storage_helpers import every_type, gate_events, spool_in_batches, store

from observability.core.io.live_rows import fetch_raw, new_duck, widen
from observability.core.io.spool_live import read_live
from observability.core.live_store import open_readonly
from observability.paths import DataLayout


def both_ways(layout: DataLayout, after: int) -> tuple[pa.Table, pa.Table, int]:
    """(rows via the spool, rows typed from live.db alone, how many came typed from the spool)."""
    conn = open_readonly(layout.live_db)
    scratch = new_duck()
    try:
        conn.execute("BEGIN")
        read = read_live(conn, layout.export_spool_dir, after_seq=after)
        reference = widen(scratch, fetch_raw(conn, after_seq=after))
        conn.execute("COMMIT")
        from_spool = 0 if read.spooled is None else read.spooled[0].table.num_rows
        return read.wide(scratch), reference, from_spool
    finally:
        conn.close()
        scratch.close()


def assert_same(a: pa.Table, b: pa.Table) -> None:
    assert a.schema == b.schema and a.num_rows == b.num_rows
    for name in a.column_names:
        if name == "payload_rest":
            def as_json(values: list[Any]) -> list[Any]:
                return [None if v is None else json.loads(v) for v in values]
            assert as_json(a[name].to_pylist()) == as_json(b[name].to_pylist())
        else:
            assert a[name].equals(b[name]), name


def test_live_rows_typed_from_the_spool_are_the_rows_typed_from_live_db(layout: DataLayout) -> None:
    events = every_type()
    spool_in_batches(layout, events, 400)
    for after in (0, 7, len(events) // 2):
        wide, reference, from_spool = both_ways(layout, after)
        assert from_spool == len(events) - after
        assert_same(wide, reference)


def test_rows_the_spool_lacks_after_its_run_are_read_from_live_db(layout: DataLayout) -> None:
    spool_in_batches(layout, gate_events(300), 100)
    store(layout, gate_events(50, start=300))  # committed, not (yet) spooled
    wide, reference, from_spool = both_ways(layout, 120)
    assert from_spool == 180 and wide.num_rows == 230
    assert_same(wide, reference)


def test_without_a_spool_every_row_is_read_from_live_db(layout: DataLayout) -> None:
    store(layout, gate_events(60))
    wide, reference, from_spool = both_ways(layout, 0)
    assert from_spool == 0 and wide.num_rows == 60
    assert_same(wide, reference)
    empty, _, _ = both_ways(layout, 60)
    assert empty.num_rows == 0
