"""One-off readers keep trades/shadow_trades as plain joins; they must equal the maintained tables."""

from __future__ import annotations

from observability.core.ingest import ingest_events
from observability.core.io.exporter import export_once
from observability.core.io.query import QueryLayer
from observability.core.io.views import trades_matching_sql
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


def test_a_lookup_of_one_trace_gives_its_rows_of_trades_and_shadow_trades(layout: DataLayout) -> None:
    events = list(generate_events(seed=12, sim_seconds=120, events_per_second=200, settle=True))
    conn = open_live_db(layout.live_db)
    ingest_events(conn, events[:len(events) // 2])
    export_once(layout)  # traces with their open in Parquet and their close still live
    ingest_events(conn, events[len(events) // 2:])
    conn.close()
    q = QueryLayer(layout)
    try:
        for view, key in (("trades", "trade_id"), ("shadow_trades", "shadow_id")):
            traces = [r["trace_id"] for r in q.sql(f"SELECT trace_id FROM {view} ORDER BY opened_at").to_pylist()]
            assert len(traces) > 16
            con = q.connect()
            for trace in traces[::len(traces) // 8]:  # spread over the run: some span Parquet and live rows
                looked_up = con.execute(f"SELECT * FROM ({trades_matching_sql(view, 'trace_id = $t')}) "
                                        f"WHERE trace_id = $t ORDER BY {key}", {"t": trace}).fetchall()
                assert looked_up == con.execute(f"SELECT * FROM {view} WHERE trace_id = $t ORDER BY {key}",
                                                {"t": trace}).fetchall()
    finally:
        q.close()
