"""The writer's scheduled export: due by row count, runs in the writer process, exports exactly once."""

from __future__ import annotations

import time
from pathlib import Path

from core_helpers import fast_config

from observability import SyncEventLogger
from observability.config.observability_config import ExportConfig
from observability.core import builders
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
