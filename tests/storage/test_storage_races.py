"""Exactly once where the storage jobs and readers interleave: a reader's watermark read and its file
listing, a box's reconcile and another box's export, a crash between watermark and marker."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
from storage_helpers import T0, gate_events, own_box, store, trade_pair

from observability.core.io.compaction import compact
from observability.core.io.dataset import list_files, open_target, publish_watermark, published_watermarks
from observability.core.io.exporter import export_once
from observability.core.io.query import QueryLayer
from observability.paths import DataLayout


class _ExportAndCompactBetweenReadAndListing(QueryLayer):
    """A reader whose Parquet listing comes after the upkeep ran once more (the real jobs, run at the
    point where a concurrent writer process may run them)."""

    def __init__(self, layout: DataLayout, uri: str | None = None) -> None:
        super().__init__(layout, uri)
        self.armed = False

    def _read_live(self) -> None:
        super()._read_live()
        if self.armed:
            self.armed = False
            export_once(self.layout, uri=self._target.uri)
            compact(self.layout, uri=self._target.uri)


def _count(q: QueryLayer) -> tuple[int, int]:
    (row,) = q.sql("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events").to_pylist()
    return row["n"], row["d"]


def test_a_file_merged_past_the_readers_watermark_after_its_live_read_is_not_counted_twice(
    layout: DataLayout,
) -> None:
    store(layout, gate_events(120))
    export_once(layout, max_rows=60)  # W = 60; rows 61..120 are live
    q = _ExportAndCompactBetweenReadAndListing(layout)
    q.connect()
    assert _count(q) == (120, 120)
    q.armed = True  # the refresh reads W = 60 and rows 61..120, then 61..120 are exported and merged with 1..60
    q.refresh()
    assert _count(q) == (120, 120)
    q.refresh()
    assert _count(q) == (120, 120)


class _MoreRowsExportedAndMergedBetweenReadAndListing(QueryLayer):
    """As above, and the engine logs more rows after the reader's read transaction, before that export."""

    def __init__(self, layout: DataLayout, more: list[dict[str, object]]) -> None:
        super().__init__(layout)
        self.more = more

    def _read_live(self) -> None:
        super()._read_live()
        if self.more:
            store(self.layout, self.more)
            self.more = []
            export_once(self.layout)
            compact(self.layout)


def test_trades_exported_and_merged_after_the_readers_live_read_appear_at_the_next_refresh(
    layout: DataLayout,
) -> None:
    pair = {"symbol": "BTC/USDT", "mode": "scalp", "side": "long", "size": 1.0, "fees": 0.0}
    store(layout, trade_pair("T1", entry=100.0, exit_=101.0, ts=T0, **pair))
    export_once(layout)
    store(layout, trade_pair("T2", entry=100.0, exit_=102.0, ts=T0 + 60, **pair))
    q = _MoreRowsExportedAndMergedBetweenReadAndListing(
        layout, trade_pair("T3", entry=100.0, exit_=103.0, ts=T0 + 120, **pair))
    q.connect()  # reads W and T2 live; then T3 is logged, everything exported and merged into one file

    def pnl() -> dict[str, float]:
        rows = q.sql("SELECT trade_id, pnl_gross FROM trades").to_pylist()
        assert len(rows) == len({r["trade_id"] for r in rows})
        return {r["trade_id"]: round(r["pnl_gross"], 6) for r in rows}

    assert pnl() == {"T1": 1.0, "T2": 2.0}
    q.refresh()
    assert pnl() == {"T1": 1.0, "T2": 2.0, "T3": 3.0}
    assert _count(q) == (6, 6)


def test_a_box_reconciling_a_shared_dataset_leaves_the_temp_files_another_box_is_writing(tmp_path: Path) -> None:
    a, b = DataLayout(tmp_path / "box-a").ensure(), DataLayout(tmp_path / "box-b").ensure()
    uri = (tmp_path / "shared").as_uri()
    store(a, gate_events(30))
    store(b, gate_events(30))
    export_once(b, uri=uri, max_rows=15)
    # box B is mid-export: its next file and its marker are still hidden temp files (files.write_parquet and
    # dataset.publish_watermark name them so)
    partition = next(f for f in list_files(open_target(b, uri)) if f.box == own_box(b)).path.rsplit("/", 1)[0]
    b_file = Path(partition) / f".tmp-16-30.{own_box(b)}-0123abcd"
    b_marker = tmp_path / "shared" / "_boxes" / f".tmp-{own_box(b)}.json-4567cdef"
    b_file.write_bytes(b"PAR1 half written")
    b_marker.write_bytes(b'{"box"')
    # box A crashed once mid-export too: its own temp file is its to remove
    a_file = Path(partition) / f".tmp-1-30.{own_box(a)}-89abcdef"
    a_file.write_bytes(b"PAR1 stale")
    result = export_once(a, uri=uri)
    compact(a, uri=uri)
    assert result.reconciled_files == 1 and not a_file.exists()
    assert b_file.exists() and b_marker.exists()


def test_a_crash_between_watermark_and_marker_is_published_by_the_next_export_even_with_nothing_new(
    tmp_path: Path,
) -> None:
    box, uri = DataLayout(tmp_path / "box").ensure(), (tmp_path / "shared").as_uri()
    store(box, gate_events(30))
    export_once(box, uri=uri, max_rows=15)
    export_once(box, uri=uri)
    target = open_target(box, uri)
    publish_watermark(target, own_box(box), 15)  # the marker as a crash after the watermark moved leaves it
    assert export_once(box, uri=uri).rows == 0  # the engine has stopped: nothing new to export
    assert published_watermarks(target) == {own_box(box): 30}
    assert _count(QueryLayer(DataLayout(tmp_path / "analyst"), uri)) == (30, 30)


def test_a_boxs_first_export_cut_short_is_invisible_to_other_machines(tmp_path: Path) -> None:
    box, uri = DataLayout(tmp_path / "box").ensure(), (tmp_path / "shared").as_uri()
    store(box, gate_events(90))
    # the symbol-less partition cannot be written (a file where its folder goes): the export writes the other
    # partitions' files, then fails before its watermark moves, as a kill in the middle of the chunk would leave it
    blocked = tmp_path / "shared" / "date=2025-11-26" / "symbol=__HIVE_DEFAULT_PARTITION__"
    blocked.parent.mkdir(parents=True)
    blocked.write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        export_once(box, uri=uri)
    assert list_files(open_target(box, uri))  # some of its files are in place
    analyst = DataLayout(tmp_path / "analyst")
    assert _count(QueryLayer(analyst, uri)) == (0, 0)
    blocked.unlink()
    export_once(box, uri=uri)
    assert _count(QueryLayer(analyst, uri)) == (90, 90)


def test_files_of_a_first_export_cut_short_are_not_counted_next_to_the_live_rows(layout: DataLayout) -> None:
    store(layout, gate_events(90))
    blocked = layout.parquet_events / "date=2025-11-26" / "symbol=__HIVE_DEFAULT_PARTITION__"
    blocked.parent.mkdir(parents=True)
    blocked.write_bytes(b"")  # one partition cannot be written: the export fails before its watermark exists
    with pytest.raises(NotADirectoryError):
        export_once(layout)
    assert list_files(open_target(layout))
    assert _count(QueryLayer(layout)) == (90, 90)


def test_trade_tables_equal_the_plain_joins_through_any_sequence_of_exports_compactions_and_foreign_files(
    tmp_path: Path,
) -> None:
    a, b = DataLayout(tmp_path / "box-a").ensure(), DataLayout(tmp_path / "box-b").ensure()
    uri = (tmp_path / "shared").as_uri()
    pair = {"symbol": "BTC/USDT", "mode": "scalp", "side": "long", "size": 1.0, "fees": 0.0}
    rng = random.Random(7)
    assert own_box(a) != own_box(b)  # both live.db exist from the start
    q = QueryLayer(a, uri)
    q.connect()
    n = 0
    for _ in range(24):
        step = rng.choice(("open_a", "close_a", "trade_b", "export_a", "export_b", "compact_a", "compact_b"))
        if step in ("open_a", "close_a", "trade_b"):
            n += 1
            events = trade_pair(f"T{n}", entry=100.0, exit_=100.0 + n, ts=T0 + 60 * n, **pair)
            store(b if step == "trade_b" else a, events if step != "open_a" else events[:1])
        elif step.startswith("export"):
            export_once(a if step.endswith("a") else b, uri=uri, max_rows=rng.choice((1, 2, 5, None)))
        else:
            compact(a if step.endswith("a") else b, uri=uri)
        q.refresh()
        fresh = QueryLayer(a, uri, materialize_trades=False)
        sql = "SELECT * FROM trades ORDER BY trade_id"
        assert q.sql(sql) == fresh.sql(sql), step
        fresh.close()


def test_boxes_that_exported_only_to_their_own_data_directory_before_box_ids_get_distinct_ids(
    tmp_path: Path,
) -> None:
    uri = (tmp_path / "shared").as_uri()
    boxes = [DataLayout(tmp_path / name).ensure() for name in ("box-a", "box-b")]
    for layout in boxes:
        store(layout, gate_events(30))
        export_once(layout)  # into its own data directory, as every box did by default
        with sqlite3.connect(layout.live_db) as conn:  # as an older version left it: no box id
            conn.execute("DELETE FROM schema_meta WHERE key = 'box_id'")
    assert own_box(boxes[0]) != own_box(boxes[1])
    for layout in boxes:  # then both join one shared dataset
        export_once(layout, uri=uri)
    assert _count(QueryLayer(DataLayout(tmp_path / "analyst"), uri)) == (60, 60)
