"""Fast event builders for the hot path: plain dicts with cheap checks, no Pydantic.

Building a Pydantic model costs ~6 µs per event; these cost ~1-2 µs. They check at the call
what is cheap (types of the key numbers, finiteness, known enums) and raise
`EventValidationError` naming the field; full validation happens once, in batches, in the
writer process. A test checks that every builder's output validates against its model.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Mapping, Sequence
from typing import Any

from observability.core.ids import new_id
from observability.core.schemas import EXIT_REASONS, SEVERITY_LEVEL, Source
from observability.errors import EventValidationError

_SOURCES = frozenset(s.value for s in Source)
_MODES = frozenset(("scalp", "runner", "none"))
_SIDES = frozenset(("long", "short"))
_EXIT = frozenset(EXIT_REASONS)


def _finite(name: str, value: Any) -> float:
    if type(value) is float:
        if value - value == 0.0:  # false for nan and +-inf, cheaper than math.isfinite
            return value
    elif type(value) is int:
        return float(value)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)  # also numpy scalars (float32, int64) that models and engines hand over
    raise EventValidationError(f"{name} must be a finite number, got {value!r}")


def _positive(name: str, value: Any) -> float:
    v = _finite(name, value)
    if v <= 0.0:
        raise EventValidationError(f"{name} must be > 0, got {value!r}")
    return v


def _non_negative(name: str, value: Any) -> float:
    v = _finite(name, value)
    if v < 0.0:
        raise EventValidationError(f"{name} must be >= 0, got {value!r}")
    return v


# The hot builders test the common case inline (`x if type(x) is float and 0.0 < x < _INF else
# _positive(...)`) and call these helpers only for anything else, which they convert or refuse:
# a Python call per field was a third of a builder's cost.
_INF = math.inf


def _choice(name: str, value: Any, allowed: frozenset[str]) -> str:
    if value not in allowed:
        raise EventValidationError(f"{name} must be one of {sorted(allowed)}, got {value!r}")
    return str(value)


def _side_sign(side: Any) -> float:
    return 1.0 if _choice("side", side, _SIDES) == "long" else -1.0


def _finite_map(name: str, values: Mapping[str, Any]) -> dict[str, float]:
    """A copy with every value checked finite; the field name (e.g. "features['x']") is formatted only on error."""
    out = dict(values)
    for key, value in out.items():
        if type(value) is not float or value - value != 0.0:
            out[key] = _finite(f"{name}[{key!r}]", value)
    return out


def _opt_finite(name: str, value: Any) -> float | None:
    """Optional numbers too: orjson would silently turn NaN into null."""
    return None if value is None else _finite(name, value)


def _ts(value: float | None) -> float:
    if value is None:
        return time.time()
    ts = _finite("ts_event", value)
    if not 0.0 < ts < 1e10:
        raise EventValidationError(f"ts_event must be unix seconds (UTC), got {value!r}")
    return ts


def envelope(
    event_type: str,
    payload: dict[str, Any],
    *,
    severity: str = "INFO",
    source: str = "engine",
    symbol: str | None = None,
    mode: str = "none",
    trace_id: str | None = None,
    ts_event: float | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """The wire form of an event: envelope fields plus `payload`; ts are unix seconds (UTC)."""
    return _event(event_type, payload, symbol, mode, trace_id, ts_event, severity, source, event_id)


def _event(
    event_type: str, payload: dict[str, Any], symbol: str | None, mode: str, trace_id: str | None,
    ts_event: float | None, severity: str = "INFO", source: str = "engine", event_id: str | None = None,
) -> dict[str, Any]:
    """`envelope` with positional arguments: the builders below call it once per event."""
    if severity not in SEVERITY_LEVEL:
        raise EventValidationError(f"severity must be one of {list(SEVERITY_LEVEL)}, got {severity!r}")
    if source not in _SOURCES:
        raise EventValidationError(f"source must be one of {sorted(_SOURCES)}, got {source!r}")
    if mode not in _MODES:
        raise EventValidationError(f"mode must be one of {sorted(_MODES)}, got {mode!r}")
    return {
        "event_id": event_id or new_id(),
        "event_version": 1,
        "event_type": event_type,
        "severity": severity,
        # a float in range needs no call; anything else (None, int, nan, out of range) goes to _ts
        "ts_event": ts_event if type(ts_event) is float and 0.0 < ts_event < 1e10 else _ts(ts_event),
        "source": source,
        "symbol": symbol,
        "mode": mode,
        "trace_id": trace_id,
        "payload": payload,
    }


def signal_received(
    *, signal_id: str, side: str, confidence: float, price: float, model_id: str, symbol: str,
    trace_id: str, mode: str = "none", strategy: str = "default",
    features: Mapping[str, float] | None = None, feature_ts: Mapping[str, float] | None = None,
    decision_timestamp: float | None = None, ts_event: float | None = None, severity: str = "INFO",
) -> dict[str, Any]:
    if type(confidence) is float and 0.0 <= confidence <= 1.0:
        conf = confidence
    else:
        conf = _finite("confidence", confidence)
        if not 0.0 <= conf <= 1.0:
            raise EventValidationError(f"confidence must be within [0, 1], got {confidence!r}")
    payload: dict[str, Any] = {
        "signal_id": signal_id,
        "side": side if type(side) is str and side in _SIDES else _choice("side", side, _SIDES),
        "confidence": conf,
        "price": price if type(price) is float and 0.0 < price < _INF else _positive("price", price),
        "model_id": model_id, "strategy": strategy,
    }
    if features:
        payload["features"] = _finite_map("features", features)
    if feature_ts:
        if decision_timestamp is None:
            raise EventValidationError("decision_timestamp is required when feature_ts is given")
        for k, v in feature_ts.items():
            if v > decision_timestamp:
                raise EventValidationError(
                    f"leakage: feature_ts[{k!r}]={v} is after decision_timestamp={decision_timestamp}"
                )
        payload["feature_ts"] = dict(feature_ts)
    if decision_timestamp is not None:
        payload["decision_timestamp"] = _finite("decision_timestamp", decision_timestamp)
    return _event("signal_received", payload, symbol, mode, trace_id, ts_event, severity)


GateSpecRow = tuple[str, float, str, int]
"""One configured gate for `gate_decisions`: (gate, threshold, direction, gate_order)."""


def gate_decision(
    *, gate: str, value: float, threshold: float, direction: str, symbol: str, trace_id: str,
    mode: str = "none", reason: str = "", gate_order: int = 0, signal_id: str | None = None,
    ts_event: float | None = None, severity: str = "INFO",
) -> dict[str, Any]:
    """`passed` and `margin` are derived from value, threshold and direction, so they cannot disagree."""
    return gate_decisions([(gate, threshold, direction, gate_order)], {gate: value}, symbol=symbol,
                          trace_id=trace_id, mode=mode, signal_id=signal_id, reasons={gate: reason},
                          ts_event=ts_event, severity=severity)[0]


def gate_decisions(
    gates: Sequence[GateSpecRow], values: Mapping[str, float], *, symbol: str, trace_id: str, mode: str = "none",
    signal_id: str | None = None, reasons: Mapping[str, str] | None = None, ts_event: float | None = None,
    severity: str = "INFO",
) -> list[dict[str, Any]]:
    """Every gate decision of one signal, in the order of `gates`, with `values[gate]` (and
    `reasons[gate]`, default ""): the shared envelope is checked once.

    The engine logs all six gates of every signal, two thirds of its events; checking their common
    fields once instead of six times is most of what makes them cheap.
    """
    common = _event("gate_decision", {}, symbol, mode, trace_id, ts_event, severity, event_id="-")
    reasons = reasons or {}
    out = []
    for gate, threshold, direction, gate_order in gates:
        try:
            value = values[gate]
        except KeyError:
            raise EventValidationError(f"values has no value for gate {gate!r}") from None
        v = value if type(value) is float and value - value == 0.0 else _finite("value", value)
        t = threshold if type(threshold) is float and threshold - threshold == 0.0 else _finite("threshold", threshold)
        if direction == "min":
            margin = v - t
        elif direction == "max":
            margin = t - v
        else:
            raise EventValidationError(f"direction must be 'min' or 'max', got {direction!r}")
        out.append({**common, "event_id": new_id(), "payload": {
            "gate": gate, "passed": margin >= 0.0, "value": v, "threshold": t, "direction": direction,
            "margin": margin, "reason": reasons.get(gate, ""), "gate_order": gate_order,
            "signal_id": signal_id,
        }})
    return out


def execution(
    *, order_id: str, side: str, price_requested: float, price_filled: float, size_requested: float,
    size_filled: float, fees: float, fee_currency: str = "USDT", venue: str = "sim",
    latency_ms: float | None = None,
) -> dict[str, Any]:
    """A fill; slippage is signed so that positive bps always cost the trader."""
    if side not in ("buy", "sell"):
        raise EventValidationError(f"side must be 'buy' or 'sell', got {side!r}")
    req = (price_requested if type(price_requested) is float and 0.0 < price_requested < _INF
           else _positive("price_requested", price_requested))
    fill = (price_filled if type(price_filled) is float and 0.0 < price_filled < _INF
            else _positive("price_filled", price_filled))
    slip = (fill - req) / req * 10_000.0
    out: dict[str, Any] = {
        "order_id": order_id, "side": side, "price_requested": req, "price_filled": fill,
        "size_requested": (size_requested if type(size_requested) is float and 0.0 < size_requested < _INF
                           else _positive("size_requested", size_requested)),
        "size_filled": (size_filled if type(size_filled) is float and 0.0 <= size_filled < _INF
                        else _non_negative("size_filled", size_filled)),
        "fees": fees if type(fees) is float and 0.0 <= fees < _INF else _non_negative("fees", fees),
        "fee_currency": fee_currency, "slippage_bps": slip if side == "buy" else -slip, "venue": venue,
    }
    if latency_ms is not None:
        out["latency_ms"] = (latency_ms if type(latency_ms) is float and 0.0 <= latency_ms < _INF
                             else _non_negative("latency_ms", latency_ms))
    return out


def trade_opened(
    *, trade_id: str, side: str, execution: dict[str, Any], model_id: str, symbol: str, trace_id: str,
    mode: str, signal_id: str | None = None, model_confidence: float | None = None,
    stop_loss: float | None = None, take_profit: float | None = None,
    thresholds: Mapping[str, float] | None = None, config_hash: str | None = None,
    git_sha: str | None = None, data_snapshot_id: str | None = None, ts_event: float | None = None,
) -> dict[str, Any]:
    payload = {
        "trade_id": trade_id, "signal_id": signal_id,
        "side": side if type(side) is str and side in _SIDES else _choice("side", side, _SIDES),
        "execution": execution, "model_id": model_id,
        "model_confidence": _opt_finite("model_confidence", model_confidence),
        "stop_loss": _opt_finite("stop_loss", stop_loss), "take_profit": _opt_finite("take_profit", take_profit),
        "thresholds": _finite_map("thresholds", thresholds) if thresholds else {},
        "config_hash": config_hash, "git_sha": git_sha, "data_snapshot_id": data_snapshot_id,
    }
    return _event("trade_opened", payload, symbol, mode, trace_id, ts_event)


def trade_closed(
    *, trade_id: str, side: str, entry_price: float, exit_price: float, size: float, fees: float,
    hold_seconds: float, exit_reason: str, symbol: str, trace_id: str, mode: str,
    mfe_bps: float = 0.0, mae_bps: float = 0.0, exit_execution: dict[str, Any] | None = None,
    ts_event: float | None = None,
) -> dict[str, Any]:
    """P&L is computed here from prices, size and fees, so a close can never disagree with its fills."""
    entry = (entry_price if type(entry_price) is float and 0.0 < entry_price < _INF
             else _positive("entry_price", entry_price))
    exit_ = exit_price if type(exit_price) is float and 0.0 < exit_price < _INF else _positive("exit_price", exit_price)
    qty = size if type(size) is float and 0.0 < size < _INF else _positive("size", size)
    fee = fees if type(fees) is float and 0.0 <= fees < _INF else _non_negative("fees", fees)
    sign = 1.0 if side == "long" else -1.0 if side == "short" else _side_sign(side)
    gross = sign * (exit_ - entry) * qty
    payload = {
        "trade_id": trade_id, "side": side, "entry_price": entry, "exit_price": exit_, "size": qty,
        "pnl_gross": gross, "fees": fee, "pnl_net": gross - fee,
        "pnl_bps": (gross - fee) / (entry * qty) * 10_000.0,
        "hold_seconds": (hold_seconds if type(hold_seconds) is float and 0.0 <= hold_seconds < _INF
                         else _non_negative("hold_seconds", hold_seconds)),
        "exit_reason": (exit_reason if type(exit_reason) is str and exit_reason in _EXIT
                        else _choice("exit_reason", exit_reason, _EXIT)),
        "mfe_bps": mfe_bps if type(mfe_bps) is float and -_INF < mfe_bps < _INF else _finite("mfe_bps", mfe_bps),
        "mae_bps": mae_bps if type(mae_bps) is float and -_INF < mae_bps < _INF else _finite("mae_bps", mae_bps),
        "exit_execution": exit_execution,
    }
    return _event("trade_closed", payload, symbol, mode, trace_id, ts_event)


def shadow_trade_opened(
    *, shadow_id: str, side: str, entry_price: float, size: float, blocked_by: Sequence[str],
    symbol: str, trace_id: str, mode: str, signal_id: str | None = None,
    counterfactuals: Sequence[Mapping[str, Any]] = (), ts_event: float | None = None,
) -> dict[str, Any]:
    payload = {
        "shadow_id": shadow_id, "signal_id": signal_id,
        "side": side if type(side) is str and side in _SIDES else _choice("side", side, _SIDES),
        "entry_price": (entry_price if type(entry_price) is float and 0.0 < entry_price < _INF
                        else _positive("entry_price", entry_price)),
        "size": size if type(size) is float and 0.0 < size < _INF else _positive("size", size),
        "blocked_by": list(blocked_by), "counterfactuals": [dict(c) for c in counterfactuals],
    }
    return _event("shadow_trade_opened", payload, symbol, mode, trace_id, ts_event)


def shadow_trade_closed(
    *, shadow_id: str, side: str, entry_price: float, exit_price: float, size: float,
    hold_seconds: float, exit_reason: str, blocked_by: Sequence[str], symbol: str, trace_id: str,
    mode: str, fees: float = 0.0, mfe_bps: float = 0.0, mae_bps: float = 0.0,
    ts_event: float | None = None,
) -> dict[str, Any]:
    entry = (entry_price if type(entry_price) is float and 0.0 < entry_price < _INF
             else _positive("entry_price", entry_price))
    exit_ = exit_price if type(exit_price) is float and 0.0 < exit_price < _INF else _positive("exit_price", exit_price)
    qty = size if type(size) is float and 0.0 < size < _INF else _positive("size", size)
    sign = 1.0 if side == "long" else -1.0 if side == "short" else _side_sign(side)
    pnl = sign * (exit_ - entry) * qty - (fees if type(fees) is float and 0.0 <= fees < _INF
                                          else _non_negative("fees", fees))
    payload = {
        "shadow_id": shadow_id, "side": side, "entry_price": entry, "exit_price": exit_, "size": qty,
        "pnl": pnl, "pnl_bps": pnl / (entry * qty) * 10_000.0,
        "hold_seconds": (hold_seconds if type(hold_seconds) is float and 0.0 <= hold_seconds < _INF
                         else _non_negative("hold_seconds", hold_seconds)),
        "exit_reason": (exit_reason if type(exit_reason) is str and exit_reason in _EXIT
                        else _choice("exit_reason", exit_reason, _EXIT)), "blocked_by": list(blocked_by),
        "mfe_bps": mfe_bps if type(mfe_bps) is float and -_INF < mfe_bps < _INF else _finite("mfe_bps", mfe_bps),
        "mae_bps": mae_bps if type(mae_bps) is float and -_INF < mae_bps < _INF else _finite("mae_bps", mae_bps),
    }
    return _event("shadow_trade_closed", payload, symbol, mode, trace_id, ts_event)


def market_context(
    *, symbol: str, price: float, spread_bps: float, volatility_bps: float, bid: float | None = None,
    ask: float | None = None, volume_1m: float = 0.0, liquidity_usd: float = 0.0,
    regime: str = "unknown", funding_rate: float | None = None, trace_id: str | None = None,
    ts_event: float | None = None, severity: str = "DEBUG",
) -> dict[str, Any]:
    payload = {
        "price": _positive("price", price), "bid": _opt_finite("bid", bid), "ask": _opt_finite("ask", ask),
        "spread_bps": _non_negative("spread_bps", spread_bps),
        "volatility_bps": _non_negative("volatility_bps", volatility_bps),
        "volume_1m": _non_negative("volume_1m", volume_1m),
        "liquidity_usd": _non_negative("liquidity_usd", liquidity_usd), "regime": regime,
        "funding_rate": _opt_finite("funding_rate", funding_rate),
    }
    return envelope("market_context", payload, severity=severity, symbol=symbol, trace_id=trace_id,
                    ts_event=ts_event)


def model_updated(
    *, model_id: str, metrics: Mapping[str, float], parent_model_id: str | None = None,
    metrics_before: Mapping[str, float] | None = None, alias: str | None = None,
    git_sha: str | None = None, data_snapshot_id: str | None = None, reason: str = "",
    ts_event: float | None = None,
) -> dict[str, Any]:
    after = _finite_map("metrics", metrics)
    delta = None
    if metrics_before is not None:
        delta = {"model_id": model_id, "parent_model_id": parent_model_id,
                 "metrics_before": _finite_map("metrics_before", metrics_before),
                 "metrics_after": after}
    payload = {
        "model_id": model_id, "parent_model_id": parent_model_id, "alias": alias, "metrics": after,
        "delta": delta, "git_sha": git_sha, "data_snapshot_id": data_snapshot_id, "reason": reason,
    }
    return envelope("model_updated", payload, source="hamilton", ts_event=ts_event)


def config_changed(
    *, key: str, old_value: Any, new_value: Any, changed_by: str, reason: str = "",
    gate: str | None = None, config_hash: str | None = None, ts_event: float | None = None,
    severity: str = "WARNING",
) -> dict[str, Any]:
    if not changed_by:
        raise EventValidationError("changed_by must name who made the change")
    payload = {
        "key": key, "old_value": old_value, "new_value": new_value, "gate": gate,
        "changed_by": changed_by, "reason": reason, "config_hash": config_hash,
    }
    return envelope("config_changed", payload, source="mechanic", severity=severity, ts_event=ts_event)


def error(
    *, component: str, error_type: str, message: str, recoverable: bool = True,
    traceback: str | None = None, symbol: str | None = None, trace_id: str | None = None,
    source: str = "engine", severity: str = "ERROR", ts_event: float | None = None,
) -> dict[str, Any]:
    payload = {
        "component": component, "error_type": error_type, "message": message[:4000],
        "recoverable": recoverable, "traceback": traceback[-16000:] if traceback else None,
    }
    return envelope("error", payload, severity=severity, source=source, symbol=symbol,
                    trace_id=trace_id, ts_event=ts_event)


def health(
    *, status: str, queue_depth: int, fill_ratio: float, dropped: Mapping[str, int],
    writer_lag_s: float, events_per_s: float, kill_switch: bool, message: str = "",
    severity: str = "WARNING",
) -> dict[str, Any]:
    payload = {
        "status": status, "queue_depth": queue_depth, "fill_ratio": fill_ratio, "dropped": dict(dropped),
        "writer_lag_s": writer_lag_s, "events_per_s": events_per_s, "kill_switch": kill_switch,
        "message": message,
    }
    return envelope("health", payload, severity=severity, source="observability")


def kill_switch(
    *, action: str, fill_ratio: float, queue_depth: int, threshold: float, reason: str = "",
) -> dict[str, Any]:
    payload = {"action": action, "fill_ratio": fill_ratio, "queue_depth": queue_depth,
               "threshold": threshold, "reason": reason}
    return envelope("kill_switch", payload, severity="CRITICAL", source="observability")
