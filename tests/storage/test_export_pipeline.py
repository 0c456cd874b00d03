"""The exporter's pipeline over many chunks: each row once, in order, the watermark only past durable chunks."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from storage_helpers import gate_events, store

from observability.core.io.dataset import list_files, open_target
from observability.core.io.exporter import export_once
from observability.core.live_store import exported_seq, open_live_db
from observability.paths import DataLayout


def _watermark(layout: DataLayout) -> int:
    conn = open_live_db(layout.live_db)
    try:
        return exported_seq(conn, open_target(layout).state_key)
    finally:
        conn.close()


def _exported(layout: DataLayout) -> list[tuple[int, float]]:
    table = ds.dataset(layout.parquet_events, format="parquet", partitioning="hive").to_table(columns=["seq", "value"])
    return sorted(zip(table["seq"].to_pylist(), table["value"].to_pylist(), strict=True))


def test_an_export_of_many_chunks_writes_each_row_once_seq_ordered_per_file(layout: DataLayout) -> None:
    store(layout, gate_events(1000, day_seconds=300.0))  # 3 symbols x 4 days
    result = export_once(layout, chunk_rows=97)  # 11 chunks, each read and typed in 3 slices
    assert (result.rows, result.first_seq, result.last_seq, result.watermark) == (1000, 1, 1000, 1000)
    assert _exported(layout) == [(s, float((s - 1) % 10)) for s in range(1, 1001)]  # each typed from its own row
    files = list_files(open_target(layout))
    assert result.files == len(files) and result.bytes == sum(f.size for f in files)
    for partition in {Path(f.path).parent for f in files}:  # a partition's files (one per chunk) never overlap
        ranges = sorted((f.first_seq, f.last_seq) for f in files if Path(f.path).parent == partition)
        assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges))
    assert len(files) > 4 * 3  # several chunks per partition
    for f in files:
        seqs = pq.read_table(f.path, columns=["seq"])["seq"].to_pylist()
        assert seqs == sorted(seqs) and (seqs[0], seqs[-1]) == (f.first_seq, f.last_seq)
    assert _watermark(layout) == 1000


def test_max_rows_stops_inside_a_chunk_and_the_next_export_continues_there(layout: DataLayout) -> None:
    store(layout, gate_events(400))
    assert export_once(layout, max_rows=250, chunk_rows=100).rows == 250
    assert _watermark(layout) == 250 and [s for s, _ in _exported(layout)] == list(range(1, 251))
    assert export_once(layout, chunk_rows=100).rows == 150
    assert [s for s, _ in _exported(layout)] == list(range(1, 401))


def test_a_chunk_that_fails_to_type_leaves_the_chunks_before_it_exported_and_nothing_after(
    layout: DataLayout,
) -> None:
    store(layout, gate_events(500))
    conn = sqlite3.connect(layout.live_db)
    conn.execute("UPDATE live_feed SET payload = '{not json' WHERE seq = 350")  # written behind the logger's back
    conn.commit()
    conn.close()
    with pytest.raises(duckdb.Error):
        export_once(layout, chunk_rows=100)
    assert _watermark(layout) == 300 and [s for s, _ in _exported(layout)] == list(range(1, 301))
    conn = sqlite3.connect(layout.live_db)
    conn.execute("UPDATE live_feed SET payload = (SELECT payload FROM live_feed WHERE seq = 340) WHERE seq = 350")
    conn.commit()
    conn.close()
    result = export_once(layout, chunk_rows=100)
    assert (result.rows, result.watermark, result.reconciled_files) == (200, 500, 0)
    assert [s for s, _ in _exported(layout)] == list(range(1, 501))
