"""One-off readers keep trades/shadow_trades as plain joins; they must equal the maintained tables."""

from __future__ import annotations

from observability.core.ingest import ingest_events
from observability.core.io.exporter import export_once
from observability.core.io.query import QueryLayer
from observability.core.live_store import open_live_db
from observability.paths import DataLayout
from observability.sim import generate_events


def test_views_and_tables_give_the_same_trades(layout: DataLayout) -> None:
    events = list(generate_events(seed=11, sim_seconds=240, events_per_second=200, settle=True))
    conn = open_live_db(layout.live_db)
    half = len(events) // 2
    ingest_events(conn, events[:half])
    export_once(layout)  # half in Parquet, half still live
    ingest_events(conn, events[half:])
    conn.close()
    results = []
    for materialize in (True, False):
        q = QueryLayer(layout, materialize_trades=materialize)
        try:
            results.append((q.sql("SELECT * FROM trades ORDER BY trade_id").to_pylist(),
                            q.sql("SELECT * FROM shadow_trades ORDER BY shadow_id").to_pylist()))
        finally:
            q.close()
    assert results[0][0] and results[0][1]
    assert results[0] == results[1]
