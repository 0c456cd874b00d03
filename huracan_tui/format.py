"""Plain-text formatting of events and numbers: one line per event, readable by a trader at 80 columns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from observability.analytics.live_feed import FeedRow

SEVERITY_STYLE = {"DEBUG": "dim", "INFO": "", "WARNING": "yellow", "ERROR": "bold red", "CRITICAL": "bold white on red"}
TYPE_SHORT = {
    "signal_received": "signal", "gate_decision": "gate", "trade_opened": "open", "trade_closed": "close",
    "shadow_trade_opened": "shadow+", "shadow_trade_closed": "shadow-", "market_context": "market",
    "model_updated": "model", "config_changed": "config", "error": "error", "health": "health",
    "kill_switch": "KILL",
}


def hms(ts_us: int) -> str:
    return datetime.fromtimestamp(ts_us / 1e6, tz=UTC).strftime("%H:%M:%S.%f")[:-3]


def stamp(ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def num(v: Any, digits: int = 2) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | float):
        a = abs(v)
        if a >= 100_000:
            return f"{v:,.0f}"
        if a and a < 0.01:
            return f"{v:.4g}"
        return f"{v:.{digits}f}"
    return str(v)


def compact(v: float | None) -> str:
    """At most ~6 characters: 250k, 1.2M, 0.553, 45.0."""
    if v is None:
        return "—"
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.1f}M"
    if a >= 1e4:
        return f"{v / 1e3:.0f}k"
    if a >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}" if a < 1 else f"{v:.1f}"


def pct0(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.0f}%"


def pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


def summary(event_type: str, p: dict[str, Any]) -> str:
    """What happened, with the numbers that matter, in one line."""
    if event_type == "gate_decision":
        op = ">=" if p.get("direction") == "min" else "<="
        verdict = "PASS" if p.get("passed") else "FAIL"
        margin = p.get("margin", 0.0)
        return f"{p.get('gate')} {num(p.get('value'))} {op} {num(p.get('threshold'))} {verdict} ({margin:+.3g})"
    if event_type == "signal_received":
        return f"{p.get('side')} conf {num(p.get('confidence'))} @ {num(p.get('price'))} model {p.get('model_id')}"
    if event_type == "trade_opened":
        ex = p.get("execution") or {}
        return (f"{p.get('trade_id')} {p.get('side')} {num(ex.get('size_filled'), 4)} @ {num(ex.get('price_filled'))}"
                f" slip {num(ex.get('slippage_bps'))}bps")
    if event_type == "trade_closed":
        return (f"{p.get('trade_id')} {p.get('exit_reason')} pnl {num(p.get('pnl_net'))} "
                f"({num(p.get('pnl_bps'), 1)}bps) hold {num(p.get('hold_seconds'), 0)}s")
    if event_type == "shadow_trade_opened":
        return f"{p.get('shadow_id')} blocked by {','.join(p.get('blocked_by') or [])}"
    if event_type == "shadow_trade_closed":
        return f"{p.get('shadow_id')} would have made {num(p.get('pnl_bps'), 1)}bps ({p.get('exit_reason')})"
    if event_type == "market_context":
        return f"px {num(p.get('price'))} spread {num(p.get('spread_bps'))}bps vol {num(p.get('volatility_bps'))}"
    if event_type == "model_updated":
        return f"{p.get('model_id')} alias {p.get('alias') or '—'} {p.get('reason') or ''}".rstrip()
    if event_type == "config_changed":
        return f"{p.get('key')}: {p.get('old_value')} -> {p.get('new_value')} by {p.get('changed_by')}"
    if event_type == "error":
        return f"{p.get('component')}: {p.get('error_type')}: {p.get('message')}"
    if event_type == "health":
        return f"{p.get('status')} fill {pct(p.get('fill_ratio'))} {p.get('message') or ''}".rstrip()
    if event_type == "kill_switch":
        return f"{p.get('action')} at fill {pct(p.get('fill_ratio'))}: {p.get('reason') or ''}".rstrip()
    return str(p)[:120]


def row_line(row: FeedRow) -> tuple[str, str, str, str]:
    """(time, severity, kind+symbol+mode, summary) columns of the feed."""
    sym = row.symbol or "-"
    mode = "" if row.mode == "none" else row.mode[0].upper()
    kind = f"{TYPE_SHORT.get(row.event_type, row.event_type):<8} {sym:<8} {mode:1}"
    return hms(row.ts_event), f"{row.severity[:4]:<4}", kind, summary(row.event_type, row.payload_dict())
