"""The engine hook keeps market snapshots at a bounded rate per symbol, however often it is called."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from observability import SyncEventLogger
from observability.integration import EngineHook

T0 = 1_790_000_000.0


def test_market_context_is_logged_at_most_once_per_interval_per_symbol(data_dir: Path) -> None:
    with SyncEventLogger(data_dir=data_dir) as logger:
        hook = EngineHook(logger, market_context_min_interval_s=1.0)
        accepted = [hook.on_market_context(sym, price=100.0, spread_bps=2.0, volatility_bps=30.0, ts=T0 + k * 0.1)
                    for k in range(25) for sym in ("BTC/USDT", "ETH/USDT")]
        assert logger.flush(timeout=30)
    assert sum(accepted) == 6  # t = 0, 1.0, 2.0 (k = 0, 10, 20) for each of two symbols
    stats = hook.market_context.stats()
    assert stats.logged == 6 and stats.skipped == 44 and stats.skipped_by_symbol == {"BTC/USDT": 22, "ETH/USDT": 22}
    conn = sqlite3.connect(data_dir / "sqlite" / "live.db")
    rows = conn.execute("SELECT symbol, count(*) FROM live_feed WHERE event_type = 'market_context' "
                        "GROUP BY 1").fetchall()
    conn.close()
    assert dict(rows) == {"BTC/USDT": 3, "ETH/USDT": 3}
