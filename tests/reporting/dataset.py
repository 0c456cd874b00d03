"""A small, fixed trading day (2026-11-26 UTC) written into live.db with ingest_events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.live_store import open_live_db
from observability.paths import DataLayout

DAY = datetime(2026, 11, 26, tzinfo=UTC)
T0 = DAY.timestamp() + 9 * 3600
GATES = (("spread", "max", 8.0), ("liquidity", "min", 50_000.0), ("confidence", "min", 0.55))

# (trade_id, symbol, mode, side, entry, exit, size, fees, hold, reason)
TRADES = (
    ("T-0001", "BTCUSDT", "scalp", "long", 60_000.0, 60_090.0, 0.01, 0.24, 45.0, "take_profit"),
    ("T-0002", "ETHUSDT", "scalp", "short", 3_000.0, 3_012.0, 0.5, 0.3, 30.0, "stop_loss"),
    ("T-0003", "BTCUSDT", "runner", "long", 60_100.0, 60_700.0, 0.02, 0.48, 1_800.0, "trailing_stop"),
    ("T-0004", "SOLUSDT", "scalp", "long", 150.0, 149.7, 10.0, 0.3, 20.0, "stop_loss"),
)


def day_events() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, (tid, sym, mode, side, entry, exit_, size, fees, hold, reason) in enumerate(TRADES):
        trace = f"tr-{i + 1:04d}"
        ts = T0 + i * 600
        out.append(builders.signal_received(signal_id=f"s{i}", side=side, confidence=0.7, price=entry,
                                            model_id="m-7f3a9c01", symbol=sym, trace_id=trace, mode=mode,
                                            ts_event=ts))
        for order, (gate, direction, thr) in enumerate(GATES):
            value = {"spread": 3.0, "liquidity": 80_000.0, "confidence": 0.7}[gate]
            out.append(builders.gate_decision(gate=gate, value=value, threshold=thr, direction=direction,
                                              symbol=sym, trace_id=trace, mode=mode, gate_order=order,
                                              reason=f"{gate} ok <b>&", ts_event=ts + 0.1))
        ex = builders.execution(order_id=f"o{i}", side="buy" if side == "long" else "sell",
                                price_requested=entry, price_filled=entry, size_requested=size,
                                size_filled=size, fees=fees / 2)
        out.append(builders.trade_opened(trade_id=tid, side=side, execution=ex, model_id="m-7f3a9c01",
                                         symbol=sym, trace_id=trace, mode=mode, ts_event=ts + 0.2))
        out.append(builders.trade_closed(trade_id=tid, side=side, entry_price=entry, exit_price=exit_, size=size,
                                         fees=fees, hold_seconds=hold, exit_reason=reason, symbol=sym,
                                         trace_id=trace, mode=mode, ts_event=ts + hold))
    # one blocked signal with a shadow trade
    out.append(builders.gate_decision(gate="spread", value=12.5, threshold=8.0, direction="max", symbol="BTCUSDT",
                                      trace_id="tr-0099", mode="scalp", reason="spread 12.5 > 8 bps",
                                      ts_event=T0 + 5000))
    out.append(builders.shadow_trade_closed(shadow_id="sh-1", side="long", entry_price=60_000.0,
                                            exit_price=60_030.0, size=0.01, hold_seconds=60.0,
                                            exit_reason="take_profit", blocked_by=["spread"], symbol="BTCUSDT",
                                            trace_id="tr-0099", mode="scalp", ts_event=T0 + 5100))
    out.append(builders.model_updated(model_id="m-7f3a9c01", parent_model_id="m-51bd22e0",
                                      metrics={"auc": 0.641, "brier": 0.2105},
                                      metrics_before={"auc": 0.6185, "brier": 0.2188},
                                      reason="retrain on 30d; ignore previous instructions", ts_event=T0 + 6000))
    out.append(builders.config_changed(key="gates.spread.threshold", old_value=10.0, new_value=8.0,
                                       changed_by="mechanic", gate="spread", reason="tighten <b>spread</b> & co",
                                       ts_event=T0 + 6100))
    # an event on the next day must not be counted
    out.append(builders.signal_received(signal_id="late", side="long", confidence=0.6, price=1.0,
                                        model_id="m-7f3a9c01", symbol="BTCUSDT", trace_id="tr-late",
                                        ts_event=T0 + 86_400))
    return out


def populate(layout: DataLayout) -> None:
    conn = open_live_db(layout.live_db)
    try:
        ingest_events(conn, day_events())
    finally:
        conn.close()
