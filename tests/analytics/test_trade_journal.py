"""Trade journal: fills, costs, excursions and lineage (event thresholds vs the registry's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from observability.analytics.trade_journal import TradeJournal, UnknownTradeError
from observability.analytics.windows import make_window
from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.io.exporter import export_once
from observability.core.io.query import QueryLayer
from observability.core.live_store import open_live_db
from observability.core.registry import Registry
from observability.paths import DataLayout
from tests.analytics.dataset import DAY1

DAY1_DT = datetime.fromtimestamp(DAY1, tz=UTC)


def test_entry_has_fill_costs_excursions_and_event_lineage(con: duckdb.DuckDBPyConnection) -> None:
    e = TradeJournal(con).entry("S1")
    r = e.record
    assert (r.symbol, r.mode, r.side, r.exit_reason) == ("BTCUSDT", "scalp", "long", "take_profit")
    assert (r.entry_price, r.exit_price, r.pnl_net, r.fees) == pytest.approx((100.0, 102.0, 1.8, 0.2))
    assert (r.mfe_bps, r.mae_bps, e.hold_seconds) == (250.0, -50.0, 60.0)
    assert e.entry_slippage_bps == pytest.approx((100.0 - 99.9) / 99.9 * 10_000)
    [fill] = e.fills
    assert (fill.kind, fill.order_id, fill.price_requested, fill.price_filled, fill.fees, fill.latency_ms) == (
        "entry", "o-S1", 99.9, 100.0, 0.1, 20.0)
    lin = e.lineage
    assert (lin.model_id, lin.git_sha, lin.data_snapshot_id, lin.config_hash) == ("model-a", "abc1234", "snap-1",
                                                                                "cfg-1")
    assert lin.thresholds == {"spread": 8.0, "liquidity": 250_000.0, "model_confidence": 0.55}
    assert fill.event_id in e.evidence
    assert {f.id: f.value for f in e.to_facts()}["trade.S1.pnl_net"] == pytest.approx(1.8)


def test_registry_thresholds_live_at_entry_and_mismatches(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    with Registry(DataLayout(tmp_path / "reg")) as reg:
        reg.record_config_change("gates.spread.threshold", 10.0, 8.0, changed_by="quant", gate="spread",
                                 ts=DAY1_DT - timedelta(days=1))
        reg.record_config_change("gates.spread.threshold", 8.0, 9.0, changed_by="mechanic", gate="spread",
                                 ts=DAY1_DT + timedelta(hours=1.5))
        journal = TradeJournal(con, reg)
        s1, s2 = journal.entry("S1"), journal.entry("S2")
    assert s1.lineage.registry_thresholds == {"spread": 8.0}
    assert "model model-a is not in the registry" in s1.lineage.mismatches
    assert not any(m.startswith("spread") for m in s1.lineage.mismatches)
    assert s2.lineage.registry_thresholds == {"spread": 9.0}  # S2 opened after the 01:30 change
    assert "spread: engine used 8, registry had 9 live" in s2.lineage.mismatches


def test_entries_in_a_window_newest_first_and_filtered(con: duckdb.DuckDBPyConnection) -> None:
    j = TradeJournal(con)
    week = make_window("7d", until=datetime(2026, 1, 8, tzinfo=UTC))
    assert [e.record.trade_id for e in j.entries(week)] == ["R3", "R2", "S4", "S3", "R1", "S2", "S1"]
    assert [e.record.trade_id for e in j.entries(week, mode="runner")] == ["R3", "R2", "R1"]
    assert [e.status for e in j.entries(week, mode="runner", limit=1)] == ["open"]


def test_unknown_trade_is_a_one_line_error(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(UnknownTradeError, match="no trade with id 'T404'"):
        TradeJournal(con).entry("T404")


def test_entry_and_exit_fills_of_each_trade_in_time_order(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path / "data").ensure()
    conn = open_live_db(layout.live_db)

    def fill(order: str, side: str, requested: float, filled: float) -> dict[str, object]:
        return builders.execution(order_id=order, side=side, price_requested=requested, price_filled=filled,
                                  size_requested=1.0, size_filled=1.0, fees=0.05, venue="binance", latency_ms=7.0)

    events = []
    for tid, exit_fill in (("A", fill("o-A2", "sell", 110.0, 109.0)), ("B", None)):
        events += [
            builders.trade_opened(trade_id=tid, side="long", execution=fill(f"o-{tid}1", "buy", 100.0, 100.5),
                                  model_id="m", symbol="BTCUSDT", trace_id=f"t-{tid}", mode="scalp", ts_event=DAY1),
            builders.trade_closed(trade_id=tid, side="long", entry_price=100.5, exit_price=109.0, size=1.0, fees=0.1,
                                  hold_seconds=60.0, exit_reason="take_profit", symbol="BTCUSDT", trace_id=f"t-{tid}",
                                  mode="scalp", exit_execution=exit_fill, ts_event=DAY1 + 60),
        ]
    assert ingest_events(conn, events) == (4, 0)
    export_once(layout, max_rows=2, wait=True)  # A's open from Parquet, the rest from live rows
    layer = QueryLayer(layout)
    try:
        journal = TradeJournal(layer.connect())
        a, b = journal.entry("A"), journal.entry("B")
    finally:
        layer.close()
    assert [(f.kind, f.order_id, f.side, f.price_requested, f.price_filled, f.fees, f.venue, f.latency_ms)
            for f in a.fills] == [("entry", "o-A1", "buy", 100.0, 100.5, 0.05, "binance", 7.0),
                                  ("exit", "o-A2", "sell", 110.0, 109.0, 0.05, "binance", 7.0)]
    assert a.fills[1].slippage_bps == pytest.approx((110.0 - 109.0) / 110.0 * 10_000)
    assert [f.order_id for f in b.fills] == ["o-B1"]  # closed without an exit fill
