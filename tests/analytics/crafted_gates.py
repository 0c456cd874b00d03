"""A crafted signal set where every counterfactual answer is known in advance.

Gates: spread (max 8), liquidity (min 250k), model_confidence (min 0.55). Scalp signals:
  C1 spread 5.0  all pass          -> trade  +3
  C2 spread 7.5  all pass          -> trade  -2
  C3 spread 8.5  spread fails      -> shadow +4
  C4 spread 9.5  spread fails      -> shadow -1
  C5 spread 11   spread fails      -> shadow +2
  C6 spread 8.5  spread + liquidity fail -> shadow +10
  C7 spread 6.0  confidence fails  -> shadow -5
Runner: C8 spread 10 (runner threshold 12) all pass -> trade +1.
C1-C4 in the first hour, C5-C8 in the second.
"""

from __future__ import annotations

from typing import Any

from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.live_store import open_live_db
from observability.paths import DataLayout

START = 1_767_657_600.0  # 2026-01-06 00:00:00 UTC
CRAFTED = [  # id, mode, spread, liquidity, confidence, outcome P&L
    ("C1", "scalp", 5.0, 300_000.0, 0.7, 3.0),
    ("C2", "scalp", 7.5, 300_000.0, 0.7, -2.0),
    ("C3", "scalp", 8.5, 300_000.0, 0.7, 4.0),
    ("C4", "scalp", 9.5, 300_000.0, 0.7, -1.0),
    ("C5", "scalp", 11.0, 300_000.0, 0.7, 2.0),
    ("C6", "scalp", 8.5, 100_000.0, 0.7, 10.0),
    ("C7", "scalp", 6.0, 300_000.0, 0.5, -5.0),
    ("C8", "runner", 10.0, 300_000.0, 0.7, 1.0),
]


def events() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, (cid, mode, spread, liq, conf, pnl) in enumerate(CRAFTED):
        ts = START + (0 if i < 4 else 3600) + 60 * i
        trace = f"tr-{cid}"
        sym = "BTCUSDT"
        out.append(builders.signal_received(signal_id=cid, side="long", confidence=conf, price=100.0,
                                            model_id="model-a", symbol=sym, trace_id=trace, mode=mode, ts_event=ts))
        spread_thr = 12.0 if mode == "runner" else 8.0
        verdicts = [("spread", spread, spread_thr, "max"), ("liquidity", liq, 250_000.0, "min"),
                    ("model_confidence", conf, 0.55, "min")]
        failed = []
        for order, (gate, value, thr, direction) in enumerate(verdicts, start=1):
            ev = builders.gate_decision(gate=gate, value=value, threshold=thr, direction=direction, symbol=sym,
                                        trace_id=trace, mode=mode, gate_order=order, ts_event=ts + 0.01 * order)
            out.append(ev)
            if not ev["payload"]["passed"]:
                failed.append(gate)
        exit_price = 100.0 + pnl  # size 1, no fees: P&L = exit - entry
        if failed:
            out.append(builders.shadow_trade_opened(shadow_id=f"sh-{cid}", side="long", entry_price=100.0, size=1.0,
                                                    blocked_by=failed, symbol=sym, trace_id=trace, mode=mode,
                                                    ts_event=ts + 0.1))
            out.append(builders.shadow_trade_closed(shadow_id=f"sh-{cid}", side="long", entry_price=100.0,
                                                    exit_price=exit_price, size=1.0, hold_seconds=30.0,
                                                    exit_reason="timeout", blocked_by=failed, symbol=sym,
                                                    trace_id=trace, mode=mode, ts_event=ts + 30.0))
        else:
            exe = builders.execution(order_id=f"o-{cid}", side="buy", price_requested=100.0, price_filled=100.0,
                                     size_requested=1.0, size_filled=1.0, fees=0.0)
            out.append(builders.trade_opened(trade_id=f"t-{cid}", side="long", execution=exe, model_id="model-a",
                                             symbol=sym, trace_id=trace, mode=mode, ts_event=ts + 0.1))
            out.append(builders.trade_closed(trade_id=f"t-{cid}", side="long", entry_price=100.0,
                                             exit_price=exit_price, size=1.0, fees=0.0, hold_seconds=30.0,
                                             exit_reason="timeout", symbol=sym, trace_id=trace, mode=mode,
                                             ts_event=ts + 30.0))
    return out


def populate(layout: DataLayout) -> None:
    conn = open_live_db(layout.live_db)
    try:
        ingest_events(conn, events())
    finally:
        conn.close()
