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
    "trades": """
        WITH o AS (SELECT * FROM _events_wide WHERE event_type = 'trade_opened'),
             c AS (SELECT * FROM _events_wide WHERE event_type = 'trade_closed')
        SELECT coalesce(o.trade_id, c.trade_id) AS trade_id,
               coalesce(o.trace_id, c.trace_id) AS trace_id,
               coalesce(o.symbol, c.symbol) AS symbol,
               coalesce(o.mode, c.mode) AS mode,
               coalesce(o.side, c.side) AS side,
               CASE WHEN c.trade_id IS NULL THEN 'open' ELSE 'closed' END AS status,
               o.ts_event AS opened_at,
               c.ts_event AS closed_at,
               o.execution_price_requested AS price_requested,
               coalesce(c.entry_price, o.execution_price_filled) AS entry_price,
               c.exit_price,
               coalesce(c.size, o.execution_size_filled) AS size,
               coalesce(c.fees, o.execution_fees) AS fees,
               o.execution_slippage_bps AS entry_slippage_bps,
               c.exit_execution_slippage_bps AS exit_slippage_bps,
               c.pnl_gross, c.pnl_net, c.pnl_bps, c.hold_seconds, c.exit_reason, c.mfe_bps, c.mae_bps,
               o.model_id, o.model_confidence, o.git_sha, o.data_snapshot_id, o.config_hash,
               json_extract(o.payload_rest, '$.thresholds')::VARCHAR AS thresholds,
               o.execution_latency_ms AS entry_latency_ms
        FROM o FULL OUTER JOIN c ON o.trade_id = c.trade_id
    """,
    "shadow_trades": """
        WITH o AS (SELECT * FROM _events_wide WHERE event_type = 'shadow_trade_opened'),
             c AS (SELECT * FROM _events_wide WHERE event_type = 'shadow_trade_closed')
        SELECT coalesce(o.shadow_id, c.shadow_id) AS shadow_id,
               coalesce(o.trace_id, c.trace_id) AS trace_id,
               coalesce(o.symbol, c.symbol) AS symbol,
               coalesce(o.mode, c.mode) AS mode,
               coalesce(o.side, c.side) AS side,
               CASE WHEN c.shadow_id IS NULL THEN 'open' ELSE 'closed' END AS status,
               o.ts_event AS opened_at,
               c.ts_event AS closed_at,
               coalesce(c.entry_price, o.entry_price) AS entry_price,
               c.exit_price,
               coalesce(c.size, o.size) AS size,
               c.pnl, c.pnl_bps, c.hold_seconds, c.exit_reason,
               coalesce(c.blocked_by, o.blocked_by) AS blocked_by,
               c.mfe_bps, c.mae_bps
        FROM o FULL OUTER JOIN c ON o.shadow_id = c.shadow_id
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
