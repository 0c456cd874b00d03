"""A small fixed event set whose metrics are computed BY HAND in the tests (not by our code).

Day 1 = 2026-01-05 UTC. Six closed trades (four scalp at entry 100 size 1, two runner at entry 200
size 0.5), one open runner trade, three blocked signals followed as shadow trades, health samples,
errors, market snapshots, a model update and a config change.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.live_store import HEALTH_COLUMNS, INSERT_HEALTH_SQL, open_live_db
from observability.paths import DataLayout

DAY1 = 1_767_571_200.0  # 2026-01-05 00:00:00 UTC
H = 3600.0
GATES = {"spread": (8.0, "max"), "liquidity": (250_000.0, "min"), "model_confidence": (0.55, "min")}


@dataclass(frozen=True)
class T:
    """One closed (or open) trade of the fixture, in numbers a person can check."""

    trade_id: str
    mode: str
    side: str
    entry: float
    exit: float | None
    size: float
    fees: float
    hold: float
    reason: str
    mfe: float
    mae: float
    conf: float
    requested: float
    latency_ms: float
    closed_at: float


TRADES = [
    T("S1", "scalp", "long", 100.0, 102.0, 1.0, 0.2, 60.0, "take_profit", 250.0, -50.0, 0.8, 99.9, 20.0, DAY1 + 1 * H),
    T("S2", "scalp", "long", 100.0, 99.0, 1.0, 0.2, 120.0, "stop_loss", 30.0, -110.0, 0.7, 100.0, 40.0, DAY1 + 2 * H),
    T("R1", "runner", "long", 200.0, 210.0, 0.5, 0.1, 3600.0, "trailing_stop", 600.0, -80.0, 0.65, 200.0, 50.0,
      DAY1 + 3 * H),
    T("S3", "scalp", "long", 100.0, 101.0, 1.0, 0.2, 30.0, "take_profit", 120.0, -20.0, 0.6, 100.0, 30.0,
      DAY1 + 25 * H),
    T("S4", "scalp", "short", 100.0, 101.0, 1.0, 0.2, 90.0, "timeout", 10.0, -100.0, 0.9, 100.0, 10.0,
      DAY1 + 26 * H),
    T("R2", "runner", "long", 200.0, 196.0, 0.5, 0.1, 1800.0, "stop_loss", 50.0, -220.0, 0.55, 200.0, 60.0,
      DAY1 + 49 * H),
    T("R3", "runner", "long", 200.0, None, 0.5, 0.1, 0.0, "", 0.0, 0.0, 0.7, 200.0, 70.0, DAY1 + 50 * H),
]
# Shadow trades of blocked signals: (id, mode, gate values, entry, exit, size, closed_at)
SHADOWS = [
    ("B1", "scalp", {"spread": 9.0, "liquidity": 300_000.0, "model_confidence": 0.7}, 100.0, 101.0, 1.0,
     DAY1 + 4 * H),
    ("B2", "scalp", {"spread": 12.0, "liquidity": 300_000.0, "model_confidence": 0.7}, 100.0, 98.0, 1.0,
     DAY1 + 5 * H),
    ("B3", "runner", {"spread": 5.0, "liquidity": 300_000.0, "model_confidence": 0.5}, 200.0, 204.0, 0.5,
     DAY1 + 6 * H),
]
PASSING = {"spread": 5.0, "liquidity": 300_000.0, "model_confidence": 0.7}
SIGNAL_LEAD = 0.5  # seconds from signal to entry fill
GATE_STEP = 0.1  # seconds between consecutive gate decisions


def _symbol(mode: str) -> str:
    return "BTCUSDT" if mode == "scalp" else "ETHUSDT"


def _signal_and_gates(trace: str, mode: str, ts: float, values: dict[str, float], conf: float,
                      price: float) -> list[dict[str, Any]]:
    sym = _symbol(mode)
    out = [builders.signal_received(signal_id=f"sig-{trace}", side="long", confidence=conf, price=price,
                                    model_id="model-a", symbol=sym, trace_id=trace, mode=mode, ts_event=ts)]
    for order, (gate, (thr, direction)) in enumerate(GATES.items(), start=1):
        out.append(builders.gate_decision(gate=gate, value=values[gate], threshold=thr, direction=direction,
                                          symbol=sym, trace_id=trace, mode=mode, gate_order=order,
                                          signal_id=f"sig-{trace}", ts_event=ts + GATE_STEP * order))
    return out


def trade_events(t: T) -> list[dict[str, Any]]:
    trace = f"tr-{t.trade_id}"
    opened = t.closed_at - t.hold
    sig_ts = opened - SIGNAL_LEAD
    sym = _symbol(t.mode)
    out = _signal_and_gates(trace, t.mode, sig_ts, {**PASSING, "model_confidence": max(t.conf, 0.56)}, t.conf,
                            t.requested)
    buy = "buy" if t.side == "long" else "sell"
    exe = builders.execution(order_id=f"o-{t.trade_id}", side=buy, price_requested=t.requested,
                             price_filled=t.entry, size_requested=t.size, size_filled=t.size, fees=t.fees / 2,
                             latency_ms=t.latency_ms)
    out.append(builders.trade_opened(trade_id=t.trade_id, side=t.side, execution=exe, model_id="model-a",
                                     symbol=sym, trace_id=trace, mode=t.mode, model_confidence=t.conf,
                                     thresholds={g: v[0] for g, v in GATES.items()}, git_sha="abc1234",
                                     data_snapshot_id="snap-1", config_hash="cfg-1", ts_event=opened))
    if t.exit is not None:
        out.append(builders.trade_closed(trade_id=t.trade_id, side=t.side, entry_price=t.entry, exit_price=t.exit,
                                         size=t.size, fees=t.fees, hold_seconds=t.hold, exit_reason=t.reason,
                                         symbol=sym, trace_id=trace, mode=t.mode, mfe_bps=t.mfe, mae_bps=t.mae,
                                         ts_event=t.closed_at))
    return out


def shadow_events(sid: str, mode: str, values: dict[str, float], entry: float, exit_: float, size: float,
                  closed_at: float) -> list[dict[str, Any]]:
    trace = f"tr-{sid}"
    opened = closed_at - 600.0
    out = _signal_and_gates(trace, mode, opened - SIGNAL_LEAD, values, values["model_confidence"], entry)
    blocked = [e["payload"]["gate"] for e in out[1:] if not e["payload"]["passed"]]
    sym = _symbol(mode)
    out.append(builders.shadow_trade_opened(shadow_id=sid, side="long", entry_price=entry, size=size,
                                            blocked_by=blocked, symbol=sym, trace_id=trace, mode=mode,
                                            ts_event=opened))
    out.append(builders.shadow_trade_closed(shadow_id=sid, side="long", entry_price=entry, exit_price=exit_,
                                            size=size, hold_seconds=600.0, exit_reason="timeout",
                                            blocked_by=blocked, symbol=sym, trace_id=trace, mode=mode,
                                            ts_event=closed_at))
    return out


HEALTH = [  # (ts, fill_ratio, queue_depth, dropped_total, dead_letter_total, writer_lag_s, events_per_s, alive)
    (DAY1 + 10 * H, 0.1, 100, 0, 1, 0.2, 100.0, True),
    (DAY1 + 11 * H, 0.5, 500, 0, 1, 1.5, 200.0, True),
    (DAY1 + 12 * H, 0.3, 300, 5, 3, 0.4, 300.0, False),
]


def other_events() -> list[dict[str, Any]]:
    return [
        builders.error(component="executor", error_type="Timeout", message="order ack late", recoverable=True,
                       ts_event=DAY1 + 7 * H),
        builders.error(component="feed", error_type="Disconnect", message="ws closed", recoverable=False,
                       ts_event=DAY1 + 8 * H),
        builders.market_context(symbol="BTCUSDT", price=100.0, spread_bps=2.0, volatility_bps=10.0,
                                ts_event=DAY1 + 0.5 * H),
        builders.market_context(symbol="BTCUSDT", price=101.0, spread_bps=4.0, volatility_bps=30.0,
                                ts_event=DAY1 + 1.5 * H),
        builders.model_updated(model_id="model-b", parent_model_id="model-a", metrics={"auc": 0.61},
                               metrics_before={"auc": 0.58}, alias="champion", reason="retrain",
                               ts_event=DAY1 + 9 * H),
        builders.config_changed(key="gates.spread.threshold", old_value=10.0, new_value=8.0, changed_by="quant",
                                gate="spread", ts_event=DAY1 + 9.5 * H),
    ]


def all_events() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for t in TRADES:
        events += trade_events(t)
    for s in SHADOWS:
        events += shadow_events(*s)
    return events + other_events()


def insert_health(conn: sqlite3.Connection) -> None:
    names = [c[0] for c in HEALTH_COLUMNS]
    for ts, fill, depth, dropped, dead, lag, eps, alive in HEALTH:
        row: dict[str, Any] = {n: None for n in names}
        row.update(ts=int(ts * 1_000_000), status="ok", queue_depth=depth, queue_maxsize=1000, fill_ratio=fill,
                   accepted_total=1000, dropped_total=dropped, dropped_by_severity="{}", dropped_by_type="{}",
                   written_total=1000, dead_letter_total=dead, writer_lag_events=depth, writer_lag_s=lag,
                   events_per_s=eps, written_per_s=eps, kill_switch=0, kill_switch_fired_total=0,
                   writer_alive=int(alive), writer_error=None, pid=1)
        conn.execute(INSERT_HEALTH_SQL, [row[n] for n in names])


def populate(layout: DataLayout) -> None:
    conn = open_live_db(layout.live_db)
    try:
        # in time order, as an engine logs them: seq then follows ts_event
        _stored, dead = ingest_events(conn, sorted(all_events(), key=lambda e: e["ts_event"]))
        assert dead == 0, "fixture events must all validate"
        insert_health(conn)
    finally:
        conn.close()
