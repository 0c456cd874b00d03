"""The writer's scheduled export: due by row count, runs in the writer process, exports exactly once."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from core_helpers import fast_config

from observability import SyncEventLogger
from observability.config.observability_config import ExportConfig
from observability.core import builders, maintenance
from observability.core.ingest import ingest_events
from observability.core.live_store import exported_seq, max_seq, open_live_db
from observability.core.maintenance import Maintenance
from observability.paths import DataLayout


def test_export_runs_when_enough_rows_are_waiting(layout: DataLayout) -> None:
    conn = open_live_db(layout.live_db)
    ingest_events(conn, [builders.error(component="c", error_type="e", message=str(i), symbol="BTC/USDT",
                                        ts_event=1_790_000_000.0 + i) for i in range(120)])
    cfg = fast_config()
    cfg.export = ExportConfig(every_seconds=3600, every_rows=100)
    upkeep = Maintenance(layout, cfg)
    upkeep.run_due()
    assert upkeep.exports == 1
    assert exported_seq(conn, "parquet") == max_seq(conn) == 120
    assert list(layout.parquet_events.rglob("*.parquet"))
    upkeep.run_due()
    assert upkeep.exports == 1  # nothing new: not due
    conn.close()


def test_the_writer_process_exports_on_its_schedule(data_dir: Path) -> None:
    cfg = fast_config()
    cfg.export = ExportConfig(every_seconds=0.2, every_rows=1_000_000)
    with SyncEventLogger(data_dir=data_dir, config=cfg) as logger:
        for i in range(50):
            logger.log(builders.error(component="c", error_type="e", message=str(i), symbol="ETH/USDT"))
        assert logger.flush(timeout=20)
        layout = DataLayout(data_dir)
        deadline = time.monotonic() + 30
        while not list(layout.parquet_events.rglob("*.parquet")):
            assert time.monotonic() < deadline, "the writer never exported"
            time.sleep(0.1)


def test_trades_are_projected_into_the_journal_and_old_exported_rows_pruned(layout: DataLayout) -> None:
    conn = open_live_db(layout.live_db)
    fill = builders.execution(order_id="o", side="buy", price_requested=100.0, price_filled=100.0,
                              size_requested=1.0, size_filled=1.0, fees=0.1)
    old = 1_700_000_000.0  # far outside the 24 h hot window
    ingest_events(conn, [
        builders.trade_opened(trade_id="tr1", side="long", execution=fill, model_id="m", symbol="BTC/USDT",
                              trace_id="t1", mode="scalp", ts_event=old),
        builders.trade_closed(trade_id="tr1", side="long", entry_price=100.0, exit_price=101.0, size=1.0, fees=0.2,
                              hold_seconds=5, exit_reason="take_profit", symbol="BTC/USDT", trace_id="t1",
                              mode="scalp", ts_event=old + 5),
    ])
    cfg = fast_config()
    cfg.export = ExportConfig(every_seconds=0.0001, every_rows=1)
    cfg.retention.prune_every_seconds = 0.0001
    upkeep = Maintenance(layout, cfg)
    time.sleep(0.01)
    upkeep.run_due()
    journal = sqlite3.connect(layout.journal_db)
    assert journal.execute("SELECT trade_id, exit_reason FROM trade_outcomes").fetchall() == [("tr1", "take_profit")]
    journal.close()
    upkeep.run_due()  # exported and journaled by now: the old rows may go
    assert conn.execute("SELECT count(*) FROM live_feed").fetchone() == (0,)
    conn.close()


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.decode().split("=", 1) for item in raw.split(b"\0") if b"=" in item)


def test_the_maintenance_process_keeps_arrows_freed_memory_unless_the_user_set_otherwise(
        layout: DataLayout, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its exports reuse the memory the previous chunk freed (see `arrow_memory`); the user's own setting wins."""
    monkeypatch.delenv("MIMALLOC_PURGE_DELAY", raising=False)
    proc = maintenance.spawn(layout, fast_config())
    try:
        assert _environ(proc.pid)["MIMALLOC_PURGE_DELAY"] == "-1"
    finally:
        maintenance.stop(proc)
    monkeypatch.setenv("MIMALLOC_PURGE_DELAY", "250")
    proc = maintenance.spawn(layout, fast_config())
    try:
        assert _environ(proc.pid)["MIMALLOC_PURGE_DELAY"] == "250"
    finally:
        maintenance.stop(proc)
