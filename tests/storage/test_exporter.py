"""Exporter: Hive layout, typed columns, atomic files, exactly once across crashes (real kill -9)."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from storage_helpers import T0, every_type, gate_events, store, trade_pair

from observability.core.io.columns import FILE_SCHEMA, PAYLOAD_COLUMNS
from observability.core.io.exporter import dataset_lock, export_once
from observability.core.io.payload_typing import BATCH_ROWS
from observability.core.io.query import QueryLayer
from observability.core.schemas import PAYLOAD_CLASSES
from observability.errors import DataDirError
from observability.paths import DataLayout


def parquet_files(layout: DataLayout) -> list[Path]:
    return sorted(layout.parquet_events.rglob("*.parquet"))


def set_watermark(layout: DataLayout, seq: int) -> None:
    conn = sqlite3.connect(layout.live_db)
    conn.execute("UPDATE export_state SET exported_seq = ? WHERE target = 'parquet'", (seq,))
    conn.commit()
    conn.close()


def watermark(layout: DataLayout) -> int:
    conn = sqlite3.connect(layout.live_db)
    row = conn.execute("SELECT exported_seq FROM export_state WHERE target = 'parquet'").fetchone()
    conn.close()
    return int(row[0]) if row else 0


def assert_each_seq_once(layout: DataLayout, n: int) -> None:
    q = QueryLayer(layout)
    try:
        row = q.sql("SELECT count(*) AS c, count(DISTINCT seq) AS d, min(seq) AS lo, max(seq) AS hi FROM events")
        assert row.to_pylist() == [{"c": n, "d": n, "lo": 1, "hi": n}]
    finally:
        q.close()


def test_files_are_hive_partitioned_typed_zstd_and_sorted(layout: DataLayout) -> None:
    store(layout, gate_events(9) + trade_pair("T1", symbol="BTC/USDT", mode="scalp", side="long", entry=100.0,
                                              exit_=101.0, size=1.0, fees=0.1, ts=T0))
    result = export_once(layout)
    assert (result.rows, result.watermark, result.first_seq, result.last_seq) == (11, 11, 1, 11)
    rel = sorted(str(p.relative_to(layout.parquet_events)) for p in parquet_files(layout))
    assert rel == [
        "date=2025-11-26/symbol=BTC%2FUSDT/1-11.parquet",
        "date=2025-11-26/symbol=ETH-USDT/2-8.parquet",
        "date=2025-11-26/symbol=__HIVE_DEFAULT_PARTITION__/3-9.parquet",
    ]
    f = pq.ParquetFile(layout.parquet_events / rel[0])
    assert f.schema_arrow == FILE_SCHEMA
    assert f.metadata.row_group(0).column(0).compression == "ZSTD"
    table = f.read()
    assert table["seq"].to_pylist() == [1, 4, 7, 10, 11]
    closed = next(r for r in table.to_pylist() if r["event_type"] == "trade_closed")
    assert closed["pnl_net"] == pytest.approx(1.0 - 0.1) and closed["exit_reason"] == "take_profit"
    assert closed["payload_rest"] is None  # every trade_closed key has a typed column


def test_typed_columns_cover_every_scalar_payload_field() -> None:
    names = {c.name for c in PAYLOAD_COLUMNS}
    for event_type, cls in PAYLOAD_CLASSES.items():
        for field, info in cls.model_fields.items():
            annotation = str(info.annotation)
            scalar = any(t in annotation for t in ("float", "int", "bool", "str", "Literal")) and not any(
                t in annotation for t in ("dict", "datetime", "Any", "Counterfactual")
            )
            if scalar and field != "traceback":
                assert field in names, f"{event_type}.{field} has no typed column"
    types = {c.name: str(c.arrow_type) for c in PAYLOAD_COLUMNS}
    assert (types["passed"], types["margin"], types["gate_order"], types["blocked_by"]) == (
        "bool", "double", "int64", "list<item: string>")
    assert types["execution_slippage_bps"] == "double"


def test_dataset_is_readable_by_pyarrow_and_duckdb_with_the_view_row_count(layout: DataLayout) -> None:
    store(layout, gate_events(600, day_seconds=600.0))
    export_once(layout, max_rows=250)
    export_once(layout)
    (layout.parquet_events / "date=2025-11-26" / "symbol=ETH-USDT" / ".tmp-1-2-abcd").write_bytes(b"torn")
    q = QueryLayer(layout)
    view = q.sql("SELECT count(*) AS n FROM events").to_pylist()[0]["n"]
    assert view == 600
    table = ds.dataset(layout.parquet_events, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == view
    glob = str(layout.parquet_events / "**" / "*.parquet")
    con = duckdb.connect()
    n = con.execute(f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning = true)").fetchone()
    assert n == (view,)


def test_a_chunk_typed_in_parallel_slices_keeps_every_row_in_seq_order(layout: DataLayout) -> None:
    store(layout, gate_events(3 * BATCH_ROWS, day_seconds=0.5))  # several slices per partition
    assert export_once(layout).rows == 3 * BATCH_ROWS
    for path in parquet_files(layout):
        table = pq.read_table(path, partitioning=None, columns=["seq", "value"])
        seqs = table["seq"].to_pylist()
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert table["value"].to_pylist() == [float((s - 1) % 10) for s in seqs]  # parsed from its own row


def test_orphan_files_above_the_watermark_are_ignored_then_replaced_without_duplicates(layout: DataLayout) -> None:
    store(layout, gate_events(90))
    export_once(layout, max_rows=30)
    export_once(layout)
    set_watermark(layout, 30)  # as if the process died after renaming the files of (30, 90], before committing
    assert_each_seq_once(layout, 90)
    result = export_once(layout)
    assert result.reconciled_files == 3 and result.rows == 60
    assert_each_seq_once(layout, 90)
    assert sum(pq.read_metadata(p).num_rows for p in parquet_files(layout)) == 90


def test_temp_files_of_a_crashed_write_are_invisible_and_cleaned(layout: DataLayout) -> None:
    store(layout, gate_events(30))
    export_once(layout)
    tmp = layout.parquet_events / "date=2025-11-26" / "symbol=BTC%2FUSDT" / ".tmp-31-40-0bad"
    tmp.write_bytes(b"PAR1 torn")
    assert_each_seq_once(layout, 30)
    assert export_once(layout).reconciled_files == 1
    assert not tmp.exists()


def test_export_without_live_db_is_a_one_line_error(layout: DataLayout) -> None:
    with pytest.raises(DataDirError, match="no live feed database to export"):
        export_once(layout)


EXPORT_LOOP = """
import random, sys
from pathlib import Path
from observability.core.io.exporter import dataset_lock, export_once
from observability.paths import DataLayout
layout = DataLayout(Path(sys.argv[1])); rng = random.Random(int(sys.argv[2]))
while export_once(layout, max_rows=rng.randint(50, 400), chunk_rows=rng.randint(20, 150)).rows:
    print("exported", flush=True)
"""


def test_kill_9_during_export_never_loses_or_duplicates_a_seq(layout: DataLayout) -> None:
    rng = random.Random(7)
    total = 0
    interrupted = 0
    for trial in range(10):
        batch = gate_events(2500, start=total, day_seconds=30.0)
        store(layout, batch, spooled=trial % 2 == 0)  # half the rows export typed from the spool
        total += len(batch)
        proc = subprocess.Popen([sys.executable, "-c", EXPORT_LOOP, str(layout.root), str(trial)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for _ in range(rng.randint(1, 3)):  # let it reach a steady state: kill inside a later export
            assert proc.stdout.readline().strip() == "exported"
        time.sleep(rng.uniform(0.0, 0.12))  # the kill point itself is what is random here
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait() in (-signal.SIGKILL, 0)  # 0: it finished its work before the kill
        interrupted += proc.returncode == -signal.SIGKILL and watermark(layout) < total
        assert_each_seq_once(layout, total)  # readable and exact even before any recovery
    assert interrupted >= 5
    export_once(layout)
    assert_each_seq_once(layout, total)
    for path in parquet_files(layout):
        assert pq.read_table(path).num_rows == pq.read_metadata(path).num_rows
    assert sum(pq.read_metadata(p).num_rows for p in parquet_files(layout)) == total


def test_payload_rebuilt_from_parquet_means_the_same_as_the_logged_one(layout: DataLayout) -> None:
    events = every_type()
    store(layout, events)
    q = QueryLayer(layout)
    sql = "SELECT seq, event_type, payload FROM events ORDER BY seq"
    logged = q.sql(sql).to_pylist()
    export_once(layout)
    q.refresh()
    rebuilt = q.sql(sql).to_pylist()
    assert q.sql("SELECT count(*) AS n FROM _events_wide WHERE seq > 0").to_pylist() == [{"n": len(events)}]
    assert {r["event_type"] for r in rebuilt} == set(PAYLOAD_CLASSES)
    for before, after in zip(logged, rebuilt, strict=True):
        model = PAYLOAD_CLASSES[before["event_type"]]
        assert model.model_validate_json(after["payload"]) == model.model_validate_json(before["payload"])


def test_scheduled_export_skips_instead_of_waiting_while_compaction_holds_the_dataset(layout: DataLayout) -> None:
    store(layout, gate_events(30))
    with dataset_lock(layout):
        result = export_once(layout)
        assert result.skipped and result.rows == 0
    assert_each_seq_once(layout, 30)
    assert export_once(layout).rows == 30


def test_a_chunk_whose_symbol_and_trace_are_null_in_every_row_exports_typed(layout: DataLayout) -> None:
    """The SQLite->Arrow driver infers types from values; all-NULL text columns must still land as strings."""
    events = [e for e in gate_events(9) if e["symbol"] is None]
    for e in events:
        e["trace_id"] = None
    store(layout, events)
    result = export_once(layout)
    assert result.rows == 3
    (path,) = parquet_files(layout)
    table = pq.read_table(path, partitioning=None)
    assert table.schema.field("trace_id").type == FILE_SCHEMA.field("trace_id").type
    assert table["trace_id"].null_count == 3
    assert sorted(table["seq"].to_pylist()) == [1, 2, 3]
