"""QueryLayer over real live.db + real Parquet: each event once, views per contract, read-only."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from storage_helpers import T0, gate_events, store, trade_pair

from observability.core import builders
from observability.core.io.compaction import compact
from observability.core.io.dataset import list_files, open_target
from observability.core.io.exporter import export_once
from observability.core.io.query import PARQUET_FILES_VARIABLE, QueryError, QueryLayer
from observability.core.io.trade_tables import OPEN, open_table
from observability.core.live_store import INSERT_HEALTH_SQL, open_live_db
from observability.core.schemas import HealthSnapshot
from observability.paths import DataLayout

# The contract's columns; views of one event type add `date` at the end (for partition pruning).
CONTRACT_COLUMNS = {
    "events": "seq event_id event_version event_type severity ts_event ts_logged source symbol mode trace_id "
              "payload date",
    "signals": "seq event_id ts_event symbol mode trace_id signal_id side confidence price model_id strategy date",
    "gate_decisions": "seq event_id ts_event symbol mode trace_id signal_id gate passed value threshold direction "
                      "margin reason gate_order date",
    "trades": "trade_id trace_id symbol mode side status opened_at closed_at price_requested entry_price exit_price "
              "size fees entry_slippage_bps exit_slippage_bps pnl_gross pnl_net pnl_bps hold_seconds exit_reason "
              "mfe_bps mae_bps model_id model_confidence git_sha data_snapshot_id config_hash thresholds "
              "entry_latency_ms",
    "shadow_trades": "shadow_id trace_id symbol mode side status opened_at closed_at entry_price exit_price size pnl "
                     "pnl_bps hold_seconds exit_reason blocked_by mfe_bps mae_bps",
    "model_updates": "seq event_id ts_event model_id parent_model_id alias metrics delta git_sha data_snapshot_id "
                     "reason",
    "config_changes": "seq event_id ts_event key gate old_value new_value changed_by reason config_hash",
    "market_context": "seq ts_event symbol price bid ask spread_bps volatility_bps volume_1m liquidity_usd regime "
                      "funding_rate date",
    "errors": "seq event_id ts_event severity source symbol trace_id component error_type message recoverable date",
    "health": "ts status queue_depth queue_maxsize fill_ratio accepted_total dropped_total dropped_by_severity "
              "dropped_by_type written_total dead_letter_total writer_lag_events writer_lag_s events_per_s "
              "written_per_s kill_switch kill_switch_fired_total writer_alive writer_error pid",
}


def count_once(q: QueryLayer) -> tuple[int, int]:
    row = q.sql("SELECT count(*) AS n, count(DISTINCT seq) AS d FROM events").to_pylist()[0]
    return row["n"], row["d"]


def test_views_exist_and_are_empty_when_nothing_exists(layout: DataLayout) -> None:
    q = QueryLayer(layout)
    for view, cols in CONTRACT_COLUMNS.items():
        result = q.sql(f"SELECT * FROM {view}")
        assert result.num_rows == 0
        assert result.column_names == cols.split(), view


def test_views_have_contract_columns_and_types_with_live_rows(layout: DataLayout) -> None:
    store(layout, gate_events(12) + trade_pair("T1", symbol="BTC/USDT", mode="scalp", side="long", entry=100.0,
                                               exit_=101.0, size=2.0, fees=0.2, ts=T0))
    q = QueryLayer(layout)
    con = q.connect()
    for view, cols in CONTRACT_COLUMNS.items():
        assert [c[0] for c in con.execute(f"DESCRIBE {view}").fetchall()] == cols.split(), view
    types = dict((r[0], r[1]) for r in con.execute("DESCRIBE events").fetchall())
    assert types["seq"] == "BIGINT" and types["ts_event"] == "TIMESTAMP WITH TIME ZONE" and types["date"] == "DATE"
    gd = dict((r[0], r[1]) for r in con.execute("DESCRIBE gate_decisions").fetchall())
    assert (gd["passed"], gd["margin"], gd["gate_order"]) == ("BOOLEAN", "DOUBLE", "INTEGER")
    trade = q.sql("SELECT * FROM trades").to_pylist()
    assert len(trade) == 1 and trade[0]["status"] == "closed"
    assert trade[0]["pnl_net"] == pytest.approx(2.0 - 0.2)
    assert trade[0]["fees"] == pytest.approx(0.2)
    assert trade[0]["thresholds"] == '{"spread":5.0}'


def test_each_event_appears_once_across_parquet_and_live(layout: DataLayout) -> None:
    store(layout, gate_events(300))
    q = QueryLayer(layout)
    assert count_once(q) == (300, 300)
    export_once(layout, max_rows=120)
    q.refresh()
    assert q.watermark == 120
    assert count_once(q) == (300, 300)
    store(layout, gate_events(50, start=300))
    export_once(layout)
    q.refresh()
    assert count_once(q) == (350, 350)
    assert q.sql("SELECT min(seq) AS a, max(seq) AS b FROM events").to_pylist()[0] == {"a": 1, "b": 350}


def test_a_connection_opened_before_an_export_still_counts_each_event_once(layout: DataLayout) -> None:
    store(layout, gate_events(90))
    q = QueryLayer(layout)
    con = q.connect()
    export_once(layout)  # files appear above the reader's snapshot watermark: not counted until refresh
    assert con.execute("SELECT count(*), count(DISTINCT seq) FROM events").fetchone() == (90, 90)
    q.refresh()
    assert con.execute("SELECT count(*), count(DISTINCT seq) FROM events").fetchone() == (90, 90)


def test_only_parquet_without_live_db(layout: DataLayout) -> None:
    store(layout, gate_events(60))
    export_once(layout)
    layout.live_db.unlink()
    q = QueryLayer(layout)
    assert count_once(q) == (60, 60)
    nulls = q.sql("SELECT count(*) AS n FROM events WHERE symbol IS NULL").to_pylist()[0]["n"]
    assert nulls == 20
    symbols = q.sql("SELECT DISTINCT symbol FROM events WHERE symbol IS NOT NULL ORDER BY 1")["symbol"].to_pylist()
    assert symbols == ["BTC/USDT", "ETH-USDT"]


def test_filters_on_date_and_symbol_prune_partitions(layout: DataLayout) -> None:
    store(layout, gate_events(30, day_seconds=86_400.0))
    export_once(layout)
    q = QueryLayer(layout)
    plan = q.sql(
        "EXPLAIN ANALYZE SELECT count(*) FROM events WHERE date = DATE '2025-11-27' AND symbol = 'ETH-USDT'"
    ).to_pylist()
    text = "\n".join(str(v) for row in plan for v in row.values())
    assert "Scanning Files: 1/30" in text
    day = q.sql("SELECT count(*) AS n FROM events WHERE date = DATE '2025-11-27' AND symbol = 'ETH-USDT'")
    assert day.to_pylist() == [{"n": 1}]


def test_payload_views_expose_typed_fields(layout: DataLayout) -> None:
    events = [
        builders.signal_received(signal_id="s1", side="long", confidence=0.7, price=100.0, model_id="m1",
                                 symbol="BTC/USDT", trace_id="tr", mode="scalp", ts_event=T0),
        builders.shadow_trade_opened(shadow_id="sh1", side="short", entry_price=50.0, size=1.0,
                                     blocked_by=["spread", "vol"], symbol="ETH-USDT", trace_id="tr2", mode="runner",
                                     ts_event=T0),
        builders.model_updated(model_id="m2", parent_model_id="m1", metrics={"auc": 0.61},
                               metrics_before={"auc": 0.6}, ts_event=T0),
        builders.config_changed(key="gates.spread.threshold", old_value=5.0, new_value=6.0, gate="spread",
                                changed_by="mechanic", ts_event=T0),
        builders.market_context(symbol="BTC/USDT", price=100.0, spread_bps=1.5, volatility_bps=20.0, ts_event=T0),
        builders.error(component="ws", error_type="Timeout", message="feed stalled", ts_event=T0),
    ]
    store(layout, events)
    export_once(layout, max_rows=3)
    q = QueryLayer(layout)
    assert q.sql("SELECT confidence, strategy FROM signals").to_pylist() == [{"confidence": 0.7, "strategy": "default"}]
    shadow = q.sql("SELECT status, blocked_by FROM shadow_trades").to_pylist()
    assert shadow == [{"status": "open", "blocked_by": ["spread", "vol"]}]
    mu = q.sql("SELECT model_id, metrics FROM model_updates").to_pylist()
    assert mu == [{"model_id": "m2", "metrics": '{"auc":0.61}'}]
    cc = q.sql("SELECT key, gate, old_value, new_value FROM config_changes").to_pylist()
    assert cc == [{"key": "gates.spread.threshold", "gate": "spread", "old_value": "5.0", "new_value": "6.0"}]
    assert q.sql("SELECT regime, volume_1m FROM market_context").to_pylist() == [{"regime": "unknown",
                                                                                  "volume_1m": 0.0}]
    assert q.sql("SELECT message, recoverable FROM errors").to_pylist() == [{"message": "feed stalled",
                                                                            "recoverable": True}]


@pytest.mark.parametrize("statement", [
    "INSERT INTO events SELECT * FROM events",
    "UPDATE events SET seq = 0",
    "DELETE FROM events",
    "CREATE TABLE t AS SELECT 1",
    "COPY (SELECT 1) TO 'x.csv'",
    "ATTACH 'other.db'",
    "DROP VIEW events",
    "SELECT 1; DROP VIEW events",
    "EXPLAIN ANALYZE DELETE FROM events",
    "INSTALL httpfs",
    "SET threads = 1",
])
def test_writes_are_refused_with_a_one_line_error(layout: DataLayout, statement: str) -> None:
    q = QueryLayer(layout)
    with pytest.raises(QueryError, match=r"^refused: \w+ statements are not allowed; the query layer is read-only"):
        q.sql(statement)
    assert q.sql("SELECT count(*) AS n FROM events").to_pylist() == [{"n": 0}]


def test_syntax_error_is_duckdbs_message(layout: DataLayout) -> None:
    with pytest.raises(QueryError, match="syntax error"):
        QueryLayer(layout).sql("SELEC 1")


def test_sql_survives_compaction_replacing_files_it_had_listed(layout: DataLayout) -> None:
    store(layout, gate_events(90))
    while export_once(layout, max_rows=15).rows:
        pass
    q = QueryLayer(layout)
    assert count_once(q) == (90, 90)
    compact(layout)  # the files q listed are gone now
    assert count_once(q) == (90, 90)


def test_the_published_file_list_follows_the_files_pq_reads_after_compaction(layout: DataLayout) -> None:
    store(layout, gate_events(90))
    while export_once(layout, max_rows=15).rows:
        pass
    q = QueryLayer(layout)
    con = q.connect()

    def published() -> list[tuple[str, int | None]]:
        return [(f["path"], f["bound"]) for f in con.execute(
            f"SELECT getvariable('{PARQUET_FILES_VARIABLE}')").fetchall()[0][0]]

    def read() -> list[str]:
        return sorted(f.path for f in list_files(open_target(layout)))

    exported = read()
    assert sorted(published()) == [(f, q.watermark) for f in exported]
    compact(layout)  # each partition's files are replaced by one
    q.refresh()
    assert sorted(published()) == [(f, q.watermark) for f in read()] and len(read()) < len(exported)


def test_health_view_reads_live_health_rows_with_typed_columns(layout: DataLayout) -> None:
    snap = HealthSnapshot(ts=datetime(2025, 11, 26, tzinfo=UTC), status="ok", queue_depth=3, queue_maxsize=10,
                          fill_ratio=0.3, accepted_total=5, dropped_total=1, dropped_by_severity={"DEBUG": 1},
                          kill_switch=True, writer_alive=True, pid=42)
    conn = open_live_db(layout.live_db)
    conn.execute(INSERT_HEALTH_SQL, [
        int(v.timestamp() * 1_000_000) if isinstance(v, datetime) else json.dumps(v) if isinstance(v, dict)
        else int(v) if isinstance(v, bool) else v
        for v in snap.model_dump().values()
    ])
    conn.close()
    row = QueryLayer(layout).sql("SELECT ts, status, kill_switch, writer_alive, dropped_by_severity, pid "
                                 "FROM health").to_pylist()
    assert row == [{"ts": datetime(2025, 11, 26, tzinfo=UTC), "status": "ok", "kill_switch": True,
                    "writer_alive": True, "dropped_by_severity": '{"DEBUG": 1}', "pid": 42}]


def test_trades_and_shadow_trades_join_opens_with_closes_in_parquet_and_live(layout: DataLayout) -> None:
    t1 = trade_pair("T1", symbol="BTC/USDT", mode="scalp", side="long", entry=100.0, exit_=101.0, size=1.0,
                    fees=0.1, ts=T0)
    t2 = trade_pair("T2", symbol="ETH-USDT", mode="runner", side="short", entry=50.0, exit_=49.0, size=2.0,
                    fees=0.1, ts=T0 + 60)
    t3 = trade_pair("T3", symbol="ETH-USDT", mode="runner", side="long", entry=10.0, exit_=11.0, size=1.0,
                    fees=0.0, ts=T0 + 120)
    shadow = builders.shadow_trade_opened(shadow_id="S1", side="long", entry_price=10.0, size=1.0,
                                          blocked_by=["spread"], symbol="BTC/USDT", trace_id="s", mode="scalp",
                                          ts_event=T0)
    store(layout, [t1[0], t2[0], shadow, t1[1], t3[1]])  # T2 still open, T3's open was never logged
    export_once(layout, max_rows=3)  # the opens in Parquet, the closes still live
    q = QueryLayer(layout)
    got = q.sql("SELECT trade_id, status, opened_at IS NOT NULL AS has_open, price_requested, pnl_net "
                "FROM trades ORDER BY trade_id").to_pylist()
    assert got == [
        {"trade_id": "T1", "status": "closed", "has_open": True, "price_requested": 100.0, "pnl_net": 0.9},
        {"trade_id": "T2", "status": "open", "has_open": True, "price_requested": 50.0, "pnl_net": None},
        {"trade_id": "T3", "status": "closed", "has_open": False, "price_requested": None, "pnl_net": 1.0},
    ]
    assert q.sql("SELECT shadow_id, status, blocked_by FROM shadow_trades").to_pylist() == [
        {"shadow_id": "S1", "status": "open", "blocked_by": ["spread"]}]


def test_trade_tables_kept_up_to_date_by_refresh_match_a_fresh_query_layer(layout: DataLayout) -> None:
    """`trades`/`shadow_trades` are tables updated incrementally; after every kind of change (new live
    rows, export, a close for a trade opened earlier, a close with no open, compaction) they equal
    what a query layer built from scratch computes."""
    t1 = trade_pair("T1", symbol="BTC/USDT", mode="scalp", side="long", entry=100.0, exit_=101.0, size=1.0,
                    fees=0.1, ts=T0)
    t2 = trade_pair("T2", symbol="ETH-USDT", mode="runner", side="short", entry=50.0, exit_=49.0, size=2.0,
                    fees=0.1, ts=T0 + 60)
    t3 = trade_pair("T3", symbol="ETH-USDT", mode="runner", side="long", entry=10.0, exit_=11.0, size=1.0,
                    fees=0.0, ts=T0 + 86_400)
    s_open = builders.shadow_trade_opened(shadow_id="S1", side="long", entry_price=10.0, size=1.0,
                                          blocked_by=["spread"], symbol="BTC/USDT", trace_id="s", mode="scalp",
                                          ts_event=T0)
    s_close = builders.shadow_trade_closed(shadow_id="S1", side="long", entry_price=10.0, exit_price=11.0,
                                           size=1.0, hold_seconds=5.0, exit_reason="take_profit", blocked_by=["spread"],
                                           symbol="BTC/USDT", trace_id="s", mode="scalp", ts_event=T0 + 5)
    q = QueryLayer(layout)
    q.connect()
    trades = "SELECT * FROM trades ORDER BY trade_id, status"
    shadows = "SELECT * FROM shadow_trades ORDER BY shadow_id, status"

    def same_as_fresh(expected_trades: int) -> None:
        q.refresh()
        fresh = QueryLayer(layout)
        assert q.sql(trades) == fresh.sql(trades)
        assert q.sql(shadows) == fresh.sql(shadows)
        assert q.sql(trades).num_rows == expected_trades
        for table, key in (("_trades", "trade_id"), ("_shadow_trades", "shadow_id")):  # and their open rows
            kept = f"SELECT * FROM {open_table(table)} ORDER BY {key}"
            assert q.sql(kept) == q.sql(f"SELECT * FROM {table} WHERE {OPEN} ORDER BY {key}") == fresh.sql(kept)
        fresh.close()

    steps: list[tuple[Callable[[], object], int]] = [
        (lambda: store(layout, [t1[0], t2[0], s_open, *gate_events(5)]), 2),
        (lambda: export_once(layout, max_rows=4), 2),
        (lambda: store(layout, [t1[1], t3[1], s_close]), 3),  # T1 closes after its open was exported
        (lambda: export_once(layout), 3),
        (lambda: store(layout, [t2[1], t3[0], *gate_events(5, start=5)]), 3),  # T3's open after its close
        (lambda: compact(layout), 3),
    ]
    for change, expected in steps:
        change()
        same_as_fresh(expected)
    q.close()


def test_the_query_layers_database_never_checkpoints_by_itself(layout: DataLayout) -> None:
    """DuckDB checkpoints in-memory databases too (by default once ~16 MiB of changes pile up): the trade tables'
    updates set one off every few live refreshes at 10 M events, and it stalled that refresh by up to ~1 s."""
    store(layout, gate_events(2))
    q = QueryLayer(layout)
    ((threshold,),) = q.connect().execute("SELECT current_setting('checkpoint_threshold')").fetchall()
    number, unit = threshold.split()
    assert unit == "TiB" and float(number) >= 100, threshold
    q.close()
