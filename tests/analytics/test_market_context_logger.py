"""Market snapshots are logged at most once per symbol per interval; the rest are counted."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from observability import SyncEventLogger
from observability.analytics.market_context_logger import MarketContextLogger
from observability.paths import DataLayout

T = 1_767_571_200.0  # 2026-01-05 00:00 UTC


class ListSink:
    """A LogSink that keeps what it is given (optionally refusing, like a full queue)."""

    def __init__(self, accept: bool = True) -> None:
        self.events: list[dict[str, Any]] = []
        self.accept = accept

    def log(self, event: dict[str, Any]) -> bool:
        if self.accept:
            self.events.append(event)
        return self.accept


def test_one_snapshot_per_symbol_per_interval() -> None:
    sink = ListSink()
    mcl = MarketContextLogger(sink, min_interval_s=1.0)
    results = [mcl.offer(sym, price=100.0, spread_bps=2.0, volatility_bps=10.0, ts=T + t)
               for t in (0.0, 0.2, 0.5, 0.99, 1.0, 1.5, 2.1) for sym in ("BTC", "ETH")]
    assert results.count(True) == 6  # each symbol at +0.0, +1.0 and +2.1
    assert [(e["symbol"], e["ts_event"] - T) for e in sink.events][:4] == [("BTC", 0.0), ("ETH", 0.0), ("BTC", 1.0),
                                                                           ("ETH", 1.0)]
    stats = mcl.stats()
    assert (stats.logged, stats.skipped, stats.rejected) == (6, 8, 0)
    assert stats.skipped_by_symbol == {"BTC": 4, "ETH": 4}


def test_snapshots_dropped_by_the_logger_are_counted_apart() -> None:
    mcl = MarketContextLogger(ListSink(accept=False), min_interval_s=1.0)
    assert not mcl.offer("BTC", price=1.0, spread_bps=1.0, volatility_bps=1.0, ts=T)
    assert mcl.stats().rejected == 1 and mcl.stats().logged == 0
    assert {f.id for f in mcl.stats().to_facts()} == {"market_context.logged", "market_context.skipped",
                                                      "market_context.rejected"}


def test_bad_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="min_interval_s must be >= 0"):
        MarketContextLogger(ListSink(), min_interval_s=-1)


def test_snapshots_reach_live_db_through_the_real_logger(layout: DataLayout) -> None:
    with SyncEventLogger(data_dir=layout.root) as lg:
        mcl = MarketContextLogger(lg, min_interval_s=5.0)
        for i in range(20):
            mcl.offer("BTCUSDT", price=100.0 + i, spread_bps=1.5, volatility_bps=8.0, ts=T + i,
                      regime="trend", liquidity_usd=1e6)
        lg.flush()
    rows = sqlite3.connect(layout.live_db).execute(
        "SELECT ts_event, json_extract(payload, '$.price') FROM live_feed WHERE event_type = 'market_context' "
        "ORDER BY seq").fetchall()
    assert [p for _, p in rows] == [100.0, 105.0, 110.0, 115.0]
    assert mcl.stats().skipped == 16
