"""SQL of the query layer's views (QUERY_CONTRACT.md), over the internal `_events_wide` relation.

`_events_wide` is Parquet (seq <= exported watermark) UNION ALL live rows (seq > watermark), with
the envelope plus every typed payload column; the public views only pick and rename columns, so
a filter on `date`, `symbol` or `ts_event` reaches the Parquet scan (partition and row-group pruning).
"""

from __future__ import annotations

from typing import Final

EVENT_COLUMNS: Final = (
    "seq", "event_id", "event_version", "event_type", "severity", "ts_event", "ts_logged", "source",
    "symbol", "mode", "trace_id", "payload", "date",
)


def _rows(event_type: str) -> str:
    return f"(SELECT * FROM _events_wide WHERE event_type = '{event_type}')"


def _of(event_type: str, columns: str) -> str:
    return f"SELECT {columns} FROM _events_wide WHERE event_type = '{event_type}'"


VIEWS: Final[dict[str, str]] = {
    # Views of one event type end with `date` (beyond the contract): filtering on it prunes whole
    # partitions, which a filter on ts_event alone cannot do.
    "events": f"SELECT {', '.join(EVENT_COLUMNS)} FROM _events_wide",
    "signals": _of(
        "signal_received",
        "seq, event_id, ts_event, symbol, mode, trace_id, signal_id, side, confidence, price, model_id, strategy, date",
    ),
    "gate_decisions": _of(
        "gate_decision",
        "seq, event_id, ts_event, symbol, mode, trace_id, signal_id, gate, passed, value, threshold, "
        "direction, margin, reason, gate_order::INTEGER AS gate_order, date",
    ),
    # trades / shadow_trades: closes LEFT JOIN opens, UNION ALL opens with no close yet. A filter on
    # closed_at then reaches the scan of the closes (a FULL OUTER JOIN would stop it at the join);
    # subqueries, not CTEs: a CTE used twice is materialised whole before any filter applies.
    "trades": f"""
        SELECT c.trade_id, coalesce(c.trace_id, o.trace_id) AS trace_id, coalesce(c.symbol, o.symbol) AS symbol,
               coalesce(c.mode, o.mode) AS mode, c.side, 'closed' AS status,
               o.ts_event AS opened_at, c.ts_event AS closed_at,
               o.execution_price_requested AS price_requested, c.entry_price, c.exit_price, c.size, c.fees,
               o.execution_slippage_bps AS entry_slippage_bps, c.exit_execution_slippage_bps AS exit_slippage_bps,
               c.pnl_gross, c.pnl_net, c.pnl_bps, c.hold_seconds, c.exit_reason, c.mfe_bps, c.mae_bps,
               o.model_id, o.model_confidence, o.git_sha, o.data_snapshot_id, o.config_hash,
               json_extract(o.payload_rest, '$.thresholds')::VARCHAR AS thresholds,
               o.execution_latency_ms AS entry_latency_ms
        FROM {_rows("trade_closed")} c LEFT JOIN {_rows("trade_opened")} o ON o.trade_id = c.trade_id
        UNION ALL
        SELECT o.trade_id, o.trace_id, o.symbol, o.mode, o.side, 'open', o.ts_event, NULL::TIMESTAMPTZ,
               o.execution_price_requested, o.execution_price_filled, NULL::DOUBLE, o.execution_size_filled,
               o.execution_fees, o.execution_slippage_bps, NULL::DOUBLE, NULL::DOUBLE, NULL::DOUBLE, NULL::DOUBLE,
               NULL::DOUBLE, NULL::VARCHAR, NULL::DOUBLE, NULL::DOUBLE, o.model_id, o.model_confidence, o.git_sha,
               o.data_snapshot_id, o.config_hash, json_extract(o.payload_rest, '$.thresholds')::VARCHAR,
               o.execution_latency_ms
        FROM {_rows("trade_opened")} o ANTI JOIN {_rows("trade_closed")} c ON c.trade_id = o.trade_id
    """,
    "shadow_trades": f"""
        SELECT c.shadow_id, coalesce(c.trace_id, o.trace_id) AS trace_id, coalesce(c.symbol, o.symbol) AS symbol,
               coalesce(c.mode, o.mode) AS mode, c.side, 'closed' AS status,
               o.ts_event AS opened_at, c.ts_event AS closed_at, c.entry_price, c.exit_price, c.size,
               c.pnl, c.pnl_bps, c.hold_seconds, c.exit_reason, coalesce(c.blocked_by, o.blocked_by) AS blocked_by,
               c.mfe_bps, c.mae_bps
        FROM {_rows("shadow_trade_closed")} c LEFT JOIN {_rows("shadow_trade_opened")} o
          ON o.shadow_id = c.shadow_id
        UNION ALL
        SELECT o.shadow_id, o.trace_id, o.symbol, o.mode, o.side, 'open', o.ts_event, NULL::TIMESTAMPTZ,
               o.entry_price, NULL::DOUBLE, o.size, NULL::DOUBLE, NULL::DOUBLE, NULL::DOUBLE, NULL::VARCHAR,
               o.blocked_by, NULL::DOUBLE, NULL::DOUBLE
        FROM {_rows("shadow_trade_opened")} o ANTI JOIN {_rows("shadow_trade_closed")} c
          ON c.shadow_id = o.shadow_id
    """,
    "model_updates": _of(
        "model_updated",
        "seq, event_id, ts_event, model_id, parent_model_id, alias, "
        "json_extract(payload_rest, '$.metrics')::VARCHAR AS metrics, "
        "json_extract(payload_rest, '$.delta')::VARCHAR AS delta, git_sha, data_snapshot_id, reason",
    ),
    "config_changes": _of(
        "config_changed",
        "seq, event_id, ts_event, key, gate, json_extract(payload_rest, '$.old_value')::VARCHAR AS old_value, "
        "json_extract(payload_rest, '$.new_value')::VARCHAR AS new_value, changed_by, reason, config_hash",
    ),
    "market_context": _of(
        "market_context",
        "seq, ts_event, symbol, price, bid, ask, spread_bps, volatility_bps, volume_1m, liquidity_usd, "
        "regime, funding_rate, date",
    ),
    "errors": _of(
        "error",
        "seq, event_id, ts_event, severity, source, symbol, trace_id, component, error_type, message, recoverable, "
        "date",
    ),
}
