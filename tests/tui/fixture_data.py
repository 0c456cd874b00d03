"""Fixed, deterministic data for TUI and live-feed tests: real live.db rows built with the real builders."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.live_store import HEALTH_COLUMNS, INSERT_HEALTH_SQL, open_live_db
from observability.paths import DataLayout

T0 = 1_790_000_000.0  # 2026-09-21 14:13:20 UTC: a fixed clock for snapshots
GATES = ("spread", "volatility", "liquidity", "model_confidence", "regime", "risk_budget")  # configs/gates.yaml
_GATE_SPEC = {  # gate: (threshold, direction), as in configs/gates.yaml
    "spread": (8.0, "max"), "volatility": (45.0, "max"), "liquidity": (250_000.0, "min"),
    "model_confidence": (0.55, "min"), "regime": (0.40, "min"), "risk_budget": (0.80, "max"),
}
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


def gate_value(gate: str, i: int) -> float:
    """A deterministic value that passes most of the time and fails every 4th signal for gate (i % 6)."""
    threshold, direction = _GATE_SPEC[gate]
    fail = i % 4 == 3 and GATES[i % 6] == gate
    step = ((i * 7919) % 100) / 100.0
    if direction == "min":
        return threshold * (0.9 - 0.2 * step) if fail else threshold * (1.02 + step)
    return threshold * (1.05 + 0.3 * step) if fail else threshold * (0.98 - 0.5 * step)


def signal_events(i: int, ts: float) -> list[dict[str, Any]]:
    """One signal, its 6 gate decisions and either a trade (open+close) or a shadow trade."""
    sym = SYMBOLS[i % len(SYMBOLS)]
    mode = "scalp" if i % 2 == 0 else "runner"
    trace = f"trace-{i:05d}"
    sig = f"sig-{i:05d}"
    price = 100.0 + i
    out = [builders.signal_received(signal_id=sig, side="long", confidence=0.7, price=price, model_id="m-abc123",
                                    symbol=sym, trace_id=trace, mode=mode, ts_event=ts)]
    failed: list[str] = []
    for order, gate in enumerate(GATES):
        threshold, direction = _GATE_SPEC[gate]
        ev = builders.gate_decision(gate=gate, value=gate_value(gate, i), threshold=threshold, direction=direction,
                                    symbol=sym, trace_id=trace, mode=mode, gate_order=order, signal_id=sig,
                                    reason=f"{gate} check", ts_event=ts + 0.001 * (order + 1))
        if not ev["payload"]["passed"]:
            failed.append(gate)
        out.append(ev)
    if failed:
        out.append(builders.shadow_trade_opened(shadow_id=f"sh-{i:05d}", side="long", entry_price=price, size=1.0,
                                                blocked_by=failed, symbol=sym, trace_id=trace, mode=mode,
                                                signal_id=sig, ts_event=ts + 0.01))
        out.append(builders.shadow_trade_closed(shadow_id=f"sh-{i:05d}", side="long", entry_price=price,
                                                exit_price=price * (1.002 if i % 3 else 0.997), size=1.0,
                                                hold_seconds=30.0, exit_reason="timeout", blocked_by=failed,
                                                symbol=sym, trace_id=trace, mode=mode, ts_event=ts + 30.0))
        return out
    exe = builders.execution(order_id=f"o-{i:05d}", side="buy", price_requested=price, price_filled=price * 1.0001,
                             size_requested=1.0, size_filled=1.0, fees=0.02, latency_ms=12.0)
    out.append(builders.trade_opened(trade_id=f"t-{i:05d}", side="long", execution=exe, model_id="m-abc123",
                                     symbol=sym, trace_id=trace, mode=mode, signal_id=sig, model_confidence=0.7,
                                     git_sha="0123abcd", data_snapshot_id="snap-1", ts_event=ts + 0.02))
    if i % 5 != 4:  # every 5th trade stays open
        out.append(builders.trade_closed(trade_id=f"t-{i:05d}", side="long", entry_price=price * 1.0001,
                                         exit_price=price * (1.004 if i % 3 else 0.996), size=1.0, fees=0.04,
                                         hold_seconds=45.0, exit_reason="take_profit" if i % 3 else "stop_loss",
                                         symbol=sym, trace_id=trace, mode=mode, mfe_bps=50.0, mae_bps=-20.0,
                                         ts_event=ts + 45.0))
    return out


def fixed_events(n_signals: int = 24, t0: float = T0) -> list[dict[str, Any]]:
    evs: list[dict[str, Any]] = []
    for i in range(n_signals):
        for ev in signal_events(i, t0 + i * 2.0):
            ev["event_id"] = f"ev-{len(evs):08d}"  # fixed ids: snapshots must not show random uuids
            evs.append(ev)
    extra = [
        builders.model_updated(model_id="m-abc123", parent_model_id="m-000fff", alias="champion",
                               metrics={"sharpe": 1.4, "hit_rate": 0.56},
                               metrics_before={"sharpe": 1.1, "hit_rate": 0.53}, git_sha="0123abcd",
                               data_snapshot_id="snap-1", reason="weekly retrain", ts_event=t0 - 60),
        builders.config_changed(key="gates.spread.threshold", old_value=10.0, new_value=8.0, changed_by="mechanic",
                                gate="spread", reason="tighter spreads", ts_event=t0 - 30),
        builders.error(component="executor", error_type="Timeout", message="order ack slow", ts_event=t0 + 5),
    ]
    for ev in extra:
        ev["event_id"] = f"ev-{len(evs):08d}"
        evs.append(ev)
    evs.sort(key=lambda e: e["ts_event"])
    for ev in evs:
        ev["ts_logged"] = ev["ts_event"]
    return evs


def health_row(ts: float, *, status: str = "ok", fill: float = 0.12, eps: float = 840.0,
               dropped: dict[str, int] | None = None, kill_switch: bool = False) -> tuple[Any, ...]:
    values: dict[str, Any] = {
        "ts": int(ts * 1_000_000), "status": status, "queue_depth": int(fill * 10_000), "queue_maxsize": 10_000,
        "fill_ratio": fill, "accepted_total": 100_000, "dropped_total": sum((dropped or {}).values()),
        "dropped_by_severity": orjson.dumps(dropped or {}).decode(), "dropped_by_type": "{}",
        "written_total": 99_000, "dead_letter_total": 0, "writer_lag_events": 40, "writer_lag_s": 0.05,
        "events_per_s": eps, "written_per_s": eps, "kill_switch": int(kill_switch), "kill_switch_fired_total": 0,
        "writer_alive": 1, "writer_error": None, "pid": 4242,
    }
    return tuple(values[c[0]] for c in HEALTH_COLUMNS)


def write_health(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    conn.executemany(INSERT_HEALTH_SQL, rows)


def populate(layout: DataLayout, *, n_signals: int = 24, t0: float = T0, health_until: float | None = None) -> None:
    """Write the fixed dataset (and 30 s of health heartbeats ending at `health_until`) into live.db."""
    conn = open_live_db(layout.live_db)
    try:
        ingest_events(conn, fixed_events(n_signals, t0))
        end = health_until if health_until is not None else t0 + 60.0
        write_health(conn, [health_row(end - 29 + k, fill=0.05 + 0.01 * (k % 10), eps=800.0 + 10 * (k % 7),
                                       dropped={"DEBUG": k} if k > 20 else None) for k in range(30)])
    finally:
        conn.close()
