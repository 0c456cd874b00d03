"""Gather a report's facts for one period from live.db (read-only).

Why live.db and plain SQL here: a report must be producible from the durable write-ahead store alone
(the engine box may have no Parquet yet), and each fact's evidence (trade ids, trace ids, model ids)
comes straight from the rows that produced it, so `huracan-obs explain ID` can recompute it.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from typing import Any, TypeGuard

import orjson

from observability.core.live_store import open_readonly
from observability.paths import DataLayout
from observability.reporting.report_data import ConfigChange, ModelChange, NotableTrade, Period, ReportData

NOTABLE_PER_SIDE = 3


def _rows(conn: sqlite3.Connection, event_type: str, period: Period, *, closing: bool = True) -> list[dict[str, Any]]:
    """Payloads (with envelope fields) of one event type inside the period."""
    cur = conn.execute(
        "SELECT event_id, ts_event, symbol, mode, trace_id, payload FROM live_feed "
        "WHERE event_type = ? AND ts_event >= ? AND ts_event < ? ORDER BY seq",
        (event_type, period.start_us, period.end_us) if closing else (event_type, 0, period.end_us),
    )
    out = []
    for event_id, ts, symbol, mode, trace_id, payload in cur:
        d = orjson.loads(payload)
        d.update(event_id=event_id, ts=ts, symbol=symbol, mode=mode, trace_id=trace_id)
        out.append(d)
    return out


def _decimals(value: float, cap: int = 6) -> int:
    """Decimals needed to show a configured value exactly (10.0 -> 0, 0.55 -> 2)."""
    text = f"{value:.{cap}f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _trades(conn: sqlite3.Connection, period: Period, data: ReportData) -> None:
    opened = {r["trade_id"]: r for r in _rows(conn, "trade_opened", period, closing=False)}
    opened_in = [r for r in opened.values() if r["ts"] >= period.start_us]
    closed = _rows(conn, "trade_closed", period)
    data.add("trades.opened", "trades opened", len(opened_in), "count", 0, [r["trade_id"] for r in opened_in[:50]])
    data.add("trades.closed", "trades closed", len(closed), "count", 0, [r["trade_id"] for r in closed[:50]])
    if not closed:
        return
    ids = [r["trade_id"] for r in closed]
    wins = [r for r in closed if r["pnl_net"] > 0]
    data.add("trades.wins", "winning trades", len(wins), "count", 0, [r["trade_id"] for r in wins[:50]])
    data.add("trades.win_rate", "win rate", len(wins) / len(closed), "ratio", 3, ids[:50])
    data.add("trades.pnl_net_total", "net PnL", sum(r["pnl_net"] for r in closed), "USDT", 2, ids[:50])
    data.add("trades.pnl_bps_avg", "average net PnL per trade", _mean([r["pnl_bps"] for r in closed]), "bps", 1,
             ids[:50])
    data.add("trades.fees_total", "fees paid", sum(r["fees"] for r in closed), "USDT", 2, ids[:50])
    data.add("trades.hold_avg", "average hold", _mean([r["hold_seconds"] for r in closed]), "s", 0, ids[:50])
    slips = [o["execution"]["slippage_bps"] for o in (opened.get(t) for t in ids) if o]
    data.add("trades.entry_slippage_avg", "average entry slippage", _mean(slips), "bps", 2, ids[:50])
    by_mode: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in closed:
        by_mode[r["mode"]].append(r)
    for mode, rows in sorted(by_mode.items()):
        mids = [r["trade_id"] for r in rows][:50]
        data.add(f"mode.{mode}.closed", f"{mode} trades closed", len(rows), "count", 0, mids)
        data.add(f"mode.{mode}.pnl_net", f"{mode} net PnL", sum(r["pnl_net"] for r in rows), "USDT", 2, mids)
    ranked = sorted(closed, key=lambda r: r["pnl_bps"])
    picks = ranked[-NOTABLE_PER_SIDE:][::-1] + [r for r in ranked[:NOTABLE_PER_SIDE] if r not in
                                                ranked[-NOTABLE_PER_SIDE:]]
    for r in picks:
        tid, trace = r["trade_id"], r["trace_id"] or ""
        ev = [tid, trace] if trace else [tid]
        data.add(f"trade.{tid}.pnl_bps", f"trade {tid} net PnL in bps", r["pnl_bps"], "bps", 1, ev)
        data.add(f"trade.{tid}.pnl_net", f"trade {tid} net PnL", r["pnl_net"], "USDT", 2, ev)
        data.add(f"trade.{tid}.hold", f"trade {tid} hold", r["hold_seconds"], "s", 0, ev)
        data.notable.append(NotableTrade(tid, trace, r["symbol"] or "", r["mode"], r["side"], r["exit_reason"]))
        data.entity_ids.update(x for x in (tid, trace, r["symbol"]) if x)


def _gates(conn: sqlite3.Connection, period: Period, data: ReportData) -> None:
    rows = _rows(conn, "gate_decision", period)
    data.add("gates.decisions", "gate decisions", len(rows), "count", 0)
    per: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        per[r["gate"]].append(r)
    for gate, grs in sorted(per.items(), key=lambda kv: min(r["gate_order"] for r in kv[1])):
        passed = sum(1 for r in grs if r["passed"])
        traces = [r["trace_id"] for r in grs if not r["passed"] and r["trace_id"]][:50]
        data.gates.append(gate)
        data.entity_ids.add(gate)
        data.add(f"gate.{gate}.decisions", f"{gate} decisions", len(grs), "count", 0)
        data.add(f"gate.{gate}.pass_rate", f"{gate} pass rate", passed / len(grs), "ratio", 3)
        data.add(f"gate.{gate}.blocked", f"{gate} blocked", len(grs) - passed, "count", 0, traces)
    shadows = _rows(conn, "shadow_trade_closed", period)
    data.add("shadow.closed", "shadow trades closed", len(shadows), "count", 0)
    if shadows:
        sids = [r["shadow_id"] for r in shadows][:50]
        data.add("shadow.pnl_total", "shadow net PnL", sum(r["pnl"] for r in shadows), "USDT", 2, sids)
        data.add("shadow.pnl_bps_avg", "average shadow PnL per trade", _mean([r["pnl_bps"] for r in shadows]),
                 "bps", 1, sids)


def _models(conn: sqlite3.Connection, period: Period, data: ReportData) -> None:
    for r in _rows(conn, "model_updated", period):
        mid = r["model_id"]
        before = (r.get("delta") or {}).get("metrics_before") or {}
        names = []
        for name, after in sorted(r["metrics"].items()):
            names.append(name)
            data.add(f"model.{mid}.{name}", f"{name} after", after, "", 4, [mid])
            if name in before:
                data.add(f"model.{mid}.{name}.before", f"{name} before", before[name], "", 4, [mid])
                data.add(f"model.{mid}.{name}.delta", f"{name} change", after - before[name], "", 4, [mid])
        data.models.append(ModelChange(mid, r.get("parent_model_id"), r.get("reason") or "", tuple(names)))
        data.entity_ids.update(x for x in (mid, r.get("parent_model_id")) if x)
    data.add("models.updated", "model updates", len(data.models), "count", 0, [m.model_id for m in data.models])


def _configs(conn: sqlite3.Connection, period: Period, data: ReportData) -> None:
    rows = _rows(conn, "config_changed", period)
    data.add("config.changes", "config changes", len(rows), "count", 0, [r["event_id"] for r in rows][:50])
    for i, r in enumerate(rows):
        old, new = r.get("old_value"), r.get("new_value")
        numeric = False
        if _is_number(old) and _is_number(new):
            numeric = True
            data.add(f"config.{i}.old", f"{r['key']} old value", old, "", _decimals(old), [r["event_id"]])
            data.add(f"config.{i}.new", f"{r['key']} new value", new, "", _decimals(new), [r["event_id"]])
        data.configs.append(ConfigChange(i, r["key"], r["changed_by"], r.get("reason") or "", numeric))
        data.entity_ids.add(r["key"])


def gather(layout: DataLayout, period: Period) -> ReportData:
    """All facts of `period` from live.db; raises DataDirError when there is no live.db."""
    data = ReportData(period)
    conn = open_readonly(layout.live_db)
    try:
        signals = _rows(conn, "signal_received", period)
        data.add("signals.count", "signals", len(signals), "count", 0)
        _trades(conn, period, data)
        _gates(conn, period, data)
        _models(conn, period, data)
        _configs(conn, period, data)
        errors = _rows(conn, "error", period)
        data.add("errors.count", "errors", len(errors), "count", 0, [r["event_id"] for r in errors][:50])
    finally:
        conn.close()
    return data
