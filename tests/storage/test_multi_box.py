"""Several trading boxes exporting into one dataset: seq is per box, so nothing may collide or vanish.

Two real data directories (two live.db, two box ids) export into one shared directory, as two
boxes would into one S3 prefix; readers are the real query layer on either box and one on a
machine with no live.db at all.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from storage_helpers import T0, gate_events, own_box, store, trade_pair

from observability.core.io.compaction import compact
from observability.core.io.dataset import list_files, open_target, publish_watermark, published_watermarks
from observability.core.io.exporter import export_once
from observability.core.io.query import QueryLayer
from observability.core.live_store import box_id, open_live_db
from observability.errors import DataDirError
from observability.paths import DataLayout


def _boxes(tmp_path: Path) -> tuple[DataLayout, DataLayout, str]:
    a, b = DataLayout(tmp_path / "box-a").ensure(), DataLayout(tmp_path / "box-b").ensure()
    return a, b, (tmp_path / "shared" / "events").as_uri()


def _count(q: QueryLayer) -> tuple[int, int]:
    (row,) = q.sql("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events").to_pylist()
    return row["n"], row["d"]


def test_two_boxes_with_the_same_seq_ranges_write_distinct_files_and_every_reader_counts_each_event_once(
    tmp_path: Path,
) -> None:
    a, b, uri = _boxes(tmp_path)
    store(a, gate_events(90))
    store(b, gate_events(90))  # same seq 1..90, same days and symbols: the old names would collide
    assert own_box(a) != own_box(b)
    export_once(a, uri=uri)
    export_once(b, uri=uri)
    files = list_files(open_target(a, uri))
    assert len(files) == len({f.path for f in files}) == 6
    assert {f.box for f in files} == {own_box(a), own_box(b)}
    assert published_watermarks(open_target(a, uri)) == {own_box(a): 90, own_box(b): 90}
    store(a, gate_events(10, start=90))  # live only on box A
    for layout, expected in ((a, 190), (b, 180), (DataLayout(tmp_path / "analyst"), 180)):
        assert _count(QueryLayer(layout, s3_uri=uri)) == (expected, expected)
    assert ds.dataset(uri.removeprefix("file://"), format="parquet", partitioning="hive").count_rows() == 180
    analyst = QueryLayer(DataLayout(tmp_path / "analyst"), s3_uri=uri)
    analyst.connect()
    analyst.refresh()  # nothing new: the trade tables are not rebuilt
    assert analyst.trade_table_rebuilds == 1


def test_one_box_never_deletes_or_merges_the_files_of_another(tmp_path: Path) -> None:
    a, b, uri = _boxes(tmp_path)
    store(b, gate_events(60))
    for _ in range(3):
        store(a, gate_events(30))
        export_once(a, uri=uri, max_rows=30)
    export_once(b, uri=uri, max_rows=30)
    export_once(b, uri=uri, max_rows=30)
    # box B "crashed" after writing its second chunk, before moving its watermark and marker
    target = open_target(b, uri)
    with sqlite3.connect(b.live_db) as conn:
        conn.execute("UPDATE export_state SET exported_seq = 30")
    publish_watermark(target, own_box(b), 30)
    b_files = {f.path for f in list_files(target) if f.box == own_box(b)}
    export_once(a, uri=uri)  # reconciles A's files only
    compact(a, uri=uri)
    after = list_files(target)
    assert {f.path for f in after if f.box == own_box(b)} == b_files
    assert len([f for f in after if f.box == own_box(a)]) == 3  # A's small files merged: one per partition
    analyst = DataLayout(tmp_path / "analyst")
    for reader in (a, analyst):  # B's unfinished files are not counted anywhere
        assert _count(QueryLayer(reader, s3_uri=uri)) == (120, 120)
    assert export_once(b, uri=uri).reconciled_files == 3  # B removes its own orphans and exports again
    assert _count(QueryLayer(analyst, s3_uri=uri)) == (150, 150)


def test_trades_of_every_box_stay_exact_as_either_box_exports_more(tmp_path: Path) -> None:
    a, b, uri = _boxes(tmp_path)
    pair = {"symbol": "BTC/USDT", "mode": "scalp", "side": "long", "size": 1.0, "fees": 0.0}
    store(a, trade_pair("A1", entry=100.0, exit_=101.0, ts=T0, **pair))
    store(b, trade_pair("B1", entry=100.0, exit_=103.0, ts=T0, **pair))
    export_once(b, uri=uri)
    q = QueryLayer(a, s3_uri=uri)

    def pnl() -> dict[str, float]:
        rows = q.sql("SELECT trade_id, pnl_gross FROM trades").to_pylist()
        assert len(rows) == len({r["trade_id"] for r in rows})
        return {r["trade_id"]: round(r["pnl_gross"], 6) for r in rows}

    assert pnl() == {"A1": 1.0, "B1": 3.0}
    store(a, trade_pair("A2", entry=100.0, exit_=99.0, ts=T0 + 60, **pair))  # incremental: A's live rows
    q.refresh()
    assert pnl() == {"A1": 1.0, "B1": 3.0, "A2": -1.0}
    export_once(a, uri=uri)
    store(b, trade_pair("B2", entry=100.0, exit_=102.0, ts=T0 + 60, **pair))
    export_once(b, uri=uri)  # B's new file: seq says nothing to A, so A rebuilds
    q.refresh()
    assert pnl() == {"A1": 1.0, "B1": 3.0, "A2": -1.0, "B2": 2.0}


def test_a_box_that_exported_before_box_ids_keeps_its_unsuffixed_file_names(tmp_path: Path) -> None:
    layout, _, uri = _boxes(tmp_path)
    store(layout, gate_events(30))
    with sqlite3.connect(layout.live_db) as conn:  # as an older version left it: exported, no box id
        conn.execute("DELETE FROM schema_meta WHERE key = 'box_id'")
        conn.execute("INSERT INTO export_state VALUES (?, 0, 0)", (open_target(layout, uri).state_key,))
    conn2 = open_live_db(layout.live_db)
    assert box_id(conn2) == ""
    conn2.close()
    export_once(layout, uri=uri)
    assert sorted(f.path.rsplit("/", 1)[1] for f in list_files(open_target(layout, uri))) == [
        "1-28.parquet", "2-29.parquet", "3-30.parquet"]
    assert _count(QueryLayer(layout, s3_uri=uri)) == (30, 30)


def test_a_data_directorys_own_dataset_keeps_the_plain_contract_names(layout: DataLayout) -> None:
    store(layout, gate_events(3))
    export_once(layout)
    assert sorted(p.name for p in layout.parquet_events.rglob("*.parquet")) == ["1-1.parquet", "2-2.parquet",
                                                                                "3-3.parquet"]


def test_a_respelled_export_uri_keeps_the_same_watermark(tmp_path: Path) -> None:
    layout, _, uri = _boxes(tmp_path)
    store(layout, gate_events(30))
    export_once(layout, uri=uri)
    before = {f.path for f in list_files(open_target(layout, uri))}
    again = export_once(layout, uri=uri + "/")
    assert (again.rows, again.watermark, again.reconciled_files) == (0, 30, 0)
    assert {f.path for f in list_files(open_target(layout, uri))} == before


def test_a_replaced_live_db_refuses_to_export_over_the_history_it_does_not_know(layout: DataLayout) -> None:
    store(layout, gate_events(30))
    export_once(layout)
    before = sorted(p.name for p in layout.parquet_events.rglob("*.parquet"))
    for suffix in ("", "-wal", "-shm"):  # the live.db is lost; the Parquet history stays
        Path(f"{layout.live_db}{suffix}").unlink(missing_ok=True)
    store(layout, gate_events(10))  # a new live.db numbers its events from 1 again
    with pytest.raises(DataDirError, match=r"3 Parquet files of this box are already there .*live.db replaced"):
        export_once(layout)
    assert sorted(p.name for p in layout.parquet_events.rglob("*.parquet")) == before


def test_compaction_with_a_replaced_live_db_merges_but_never_deletes_the_history(layout: DataLayout) -> None:
    for start in (0, 30):
        store(layout, gate_events(30, start=start))
        export_once(layout)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{layout.live_db}{suffix}").unlink(missing_ok=True)
    store(layout, gate_events(1))
    compact(layout)
    assert ds.dataset(layout.parquet_events, format="parquet", partitioning="hive").count_rows() == 60
