"""Compaction (no half state, no double count) and live.db retention (only safely exported rows go)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from storage_helpers import T0, gate_events, store

from observability.cli.main import main
from observability.core.io.compaction import compact, conform, plan_compaction
from observability.core.io.dataset import list_files, open_target, split_files
from observability.core.io.exporter import export_once
from observability.core.io.files import write_parquet
from observability.core.io.journal import JournalProjector, journal_watermark
from observability.core.io.query import QueryLayer
from observability.core.io.retention import prune
from observability.paths import DataLayout


def exported_in_small_files(layout: DataLayout, n: int, per_file: int) -> None:
    store(layout, gate_events(n))
    while export_once(layout, max_rows=per_file).rows:
        pass


def view_count(layout: DataLayout) -> tuple[int, int]:
    q = QueryLayer(layout)
    row = q.sql("SELECT count(*) AS n, count(DISTINCT seq) AS d FROM events").to_pylist()[0]
    q.close()
    return row["n"], row["d"]


def live_rows(layout: DataLayout) -> int:
    conn = sqlite3.connect(layout.live_db)
    n = int(conn.execute("SELECT count(*) FROM live_feed").fetchone()[0])
    conn.close()
    return n


def test_compaction_merges_each_partition_into_one_file_with_large_row_groups(layout: DataLayout) -> None:
    exported_in_small_files(layout, 300, per_file=60)
    before = list(layout.parquet_events.rglob("*.parquet"))
    assert len(before) == 15
    result = compact(layout)
    assert (result.plans, result.files_merged) == (3, 15)
    after = sorted(layout.parquet_events.rglob("*.parquet"))
    assert [p.name for p in after] == ["1-298.parquet", "2-299.parquet", "3-300.parquet"]
    for path in after:
        meta = pq.read_metadata(path)
        assert (meta.num_rows, meta.num_row_groups) == (100, 1)
        assert pq.read_table(path)["seq"].to_pylist() == sorted(pq.read_table(path)["seq"].to_pylist())
    assert view_count(layout) == (300, 300)
    assert ds.dataset(layout.parquet_events, format="parquet", partitioning="hive").count_rows() == 300


def test_a_merged_file_next_to_its_sources_is_counted_once_and_the_sources_go_next_run(layout: DataLayout) -> None:
    exported_in_small_files(layout, 120, per_file=40)
    target = open_target(layout)
    visible, _, _ = split_files(list_files(target), {"": 120})
    plan = plan_compaction(target, visible)[0]
    merged = pa.concat_tables([conform(pq.read_table(f.path, partitioning=None)) for f in plan.sources])
    write_parquet(target, f"{plan.partition}/{plan.name}", merged)  # crash here: sources not yet removed
    assert view_count(layout) == (120, 120)
    assert export_once(layout).reconciled_files == len(plan.sources)
    assert view_count(layout) == (120, 120)
    assert ds.dataset(layout.parquet_events, format="parquet", partitioning="hive").count_rows() == 120


def test_compaction_never_merges_across_a_large_file(layout: DataLayout) -> None:
    store(layout, gate_events(3 * 40))
    for size in (6, 90, 6, 6):  # per symbol: small, large, small, small
        export_once(layout, max_rows=size)
    target = open_target(layout)
    visible, _, _ = split_files(list_files(target), {"": 200})
    plans = plan_compaction(target, visible, target_rows=20)
    assert {len(p.sources) for p in plans} == {2}
    assert all(p.sources[0].first_seq > 96 for p in plans)  # only the two small files after the large one
    compact(layout, target_rows=20)
    assert view_count(layout) == (120, 120)  # 108 from Parquet, 12 still only in live.db


def test_compaction_dry_run_changes_nothing(layout: DataLayout) -> None:
    exported_in_small_files(layout, 90, per_file=30)
    before = sorted(layout.parquet_events.rglob("*.parquet"))
    result = compact(layout, dry_run=True)
    assert result.dry_run and result.files_merged == 9 and result.files_written == 0
    assert sorted(layout.parquet_events.rglob("*.parquet")) == before


def test_prune_deletes_only_old_rows_at_or_below_the_exported_watermark(layout: DataLayout) -> None:
    store(layout, gate_events(100))  # one event a minute from T0
    export_once(layout, max_rows=60)
    now = T0 + 100 * 60 + 3600.0  # 1 h after the last event
    dry = prune(layout, hot_hours=24.0 * 365, now=now, dry_run=True)
    assert dry.rows == 0  # inside the hot window: nothing goes
    dry = prune(layout, hot_hours=0.5, now=now, dry_run=True)
    assert (dry.rows, dry.safe_seq, live_rows(layout)) == (60, 60, 100)
    result = prune(layout, hot_hours=0.5, now=now)
    assert result.rows == 60 and live_rows(layout) == 40
    assert view_count(layout) == (100, 100)
    store(layout, gate_events(5, start=100))
    assert view_count(layout) == (105, 105)  # seq keeps growing after pruning: no reuse


def test_prune_lets_the_trade_journal_see_every_row_before_it_goes(layout: DataLayout) -> None:
    store(layout, gate_events(50))
    JournalProjector(layout, chunk_rows=20).run_once()
    store(layout, gate_events(50, start=50))
    export_once(layout)
    later = T0 + 10 * 86_400.0
    dry = prune(layout, hot_hours=1.0, now=later, dry_run=True)
    assert (dry.safe_seq, dry.rows) == (50, 50)  # the journal has seen only 50 so far
    result = prune(layout, hot_hours=1.0, now=later)
    assert (result.safe_seq, result.rows) == (100, 100)
    assert journal_watermark(layout) == 100
    conn = sqlite3.connect(layout.journal_db)
    assert conn.execute("SELECT sum(evaluated) FROM gate_daily").fetchone() == (100,)
    conn.close()
    assert view_count(layout) == (100, 100)


def obs(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> str:
    assert main(["--data-dir", str(data_dir), *args]) == 0
    return " ".join(capsys.readouterr().out.split())


def test_compact_and_prune_commands_with_dry_run(layout: DataLayout, capsys: pytest.CaptureFixture[str]) -> None:
    exported_in_small_files(layout, 60, per_file=20)
    assert "would merge 9 files (60 rows" in obs(capsys, layout.root, "compact", "--dry-run")
    assert "merged 9 files (60 rows" in obs(capsys, layout.root, "compact")
    assert len(list(layout.parquet_events.rglob("*.parquet"))) == 3
    assert "would delete 60 live rows" in obs(capsys, layout.root, "prune", "--dry-run", "--hot-hours", "1")
    assert live_rows(layout) == 60
    assert "deleted 60 live rows" in obs(capsys, layout.root, "prune", "--hot-hours", "1")
    assert live_rows(layout) == 0
