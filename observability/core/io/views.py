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


TRADE_EVENT_COLUMNS: Final = (
    "seq, event_type, trade_id, shadow_id, trace_id, symbol, mode, side, ts_event, execution_price_requested, "
    "execution_price_filled, execution_size_filled, execution_fees, execution_slippage_bps, execution_latency_ms, "
    "entry_price, exit_price, size, fees, exit_execution_slippage_bps, pnl, pnl_gross, pnl_net, pnl_bps, "
    "hold_seconds, exit_reason, blocked_by, mfe_bps, mae_bps, model_id, model_confidence, git_sha, "
    "data_snapshot_id, config_hash, "
    "CASE WHEN event_type = 'trade_opened' THEN json_extract(payload_rest, '$.thresholds')::VARCHAR END AS thresholds"
)
"""What `trades` and `shadow_trades` need of the (shadow) trade open/close events: the query layer keeps
these rows in one table, filled by one scan."""

TRADE_EVENT_TYPES: Final = ("trade_opened", "trade_closed", "shadow_trade_opened", "shadow_trade_closed")


def _typed(src: str, event_type: str, key: str, only: str | None) -> str:
    keep = "" if only is None else f" AND {key} IN (SELECT {key} FROM {only})"
    return f"(SELECT * FROM {src} WHERE event_type = '{event_type}'{keep})"


def trades_sql(src: str, only: str | None = None) -> str:
    """`trades` over `src` (rows with TRADE_EVENT_COLUMNS); `only`: a relation of trade_ids to limit it to.

    Closes LEFT JOIN opens, UNION ALL opens with no close yet: a trade's rows depend only on the
    events with its trade_id, which is what lets the query layer maintain the table incrementally.
    """
    closes, opens = _typed(src, "trade_closed", "trade_id", only), _typed(src, "trade_opened", "trade_id", only)
    return f"""
        SELECT c.trade_id, coalesce(c.trace_id, o.trace_id) AS trace_id, coalesce(c.symbol, o.symbol) AS symbol,
               coalesce(c.mode, o.mode) AS mode, c.side, 'closed' AS status,
               o.ts_event AS opened_at, c.ts_event AS closed_at,
               o.execution_price_requested AS price_requested, c.entry_price, c.exit_price, c.size, c.fees,
               o.execution_slippage_bps AS entry_slippage_bps, c.exit_execution_slippage_bps AS exit_slippage_bps,
               c.pnl_gross, c.pnl_net, c.pnl_bps, c.hold_seconds, c.exit_reason, c.mfe_bps, c.mae_bps,
               o.model_id, o.model_confidence, o.git_sha, o.data_snapshot_id, o.config_hash, o.thresholds,
               o.execution_latency_ms AS entry_latency_ms
        FROM {closes} c LEFT JOIN {opens} o ON o.trade_id = c.trade_id
        UNION ALL
        SELECT o.trade_id, o.trace_id, o.symbol, o.mode, o.side, 'open', o.ts_event, NULL::TIMESTAMPTZ,
               o.execution_price_requested, o.execution_price_filled, NULL::DOUBLE, o.execution_size_filled,
               o.execution_fees, o.execution_slippage_bps, NULL::DOUBLE, NULL::DOUBLE, NULL::DOUBLE, NULL::DOUBLE,
               NULL::DOUBLE, NULL::VARCHAR, NULL::DOUBLE, NULL::DOUBLE, o.model_id, o.model_confidence, o.git_sha,
               o.data_snapshot_id, o.config_hash, o.thresholds, o.execution_latency_ms
        FROM {opens} o ANTI JOIN {closes} c ON c.trade_id = o.trade_id
    """


def shadow_trades_sql(src: str, only: str | None = None) -> str:
    """`shadow_trades` over `src` (rows with TRADE_EVENT_COLUMNS), like `trades_sql` on shadow_id."""
    closes = _typed(src, "shadow_trade_closed", "shadow_id", only)
    opens = _typed(src, "shadow_trade_opened", "shadow_id", only)
    return f"""
        SELECT c.shadow_id, coalesce(c.trace_id, o.trace_id) AS trace_id, coalesce(c.symbol, o.symbol) AS symbol,
               coalesce(c.mode, o.mode) AS mode, c.side, 'closed' AS status,
               o.ts_event AS opened_at, c.ts_event AS closed_at, c.entry_price, c.exit_price, c.size,
               c.pnl, c.pnl_bps, c.hold_seconds, c.exit_reason, coalesce(c.blocked_by, o.blocked_by) AS blocked_by,
               c.mfe_bps, c.mae_bps
        FROM {closes} c LEFT JOIN {opens} o ON o.shadow_id = c.shadow_id
        UNION ALL
        SELECT o.shadow_id, o.trace_id, o.symbol, o.mode, o.side, 'open', o.ts_event, NULL::TIMESTAMPTZ,
               o.entry_price, NULL::DOUBLE, o.size, NULL::DOUBLE, NULL::DOUBLE, NULL::DOUBLE, NULL::VARCHAR,
               o.blocked_by, NULL::DOUBLE, NULL::DOUBLE
        FROM {opens} o ANTI JOIN {closes} c ON c.shadow_id = o.shadow_id
    """


def trades_matching_sql(view: str, where: str) -> str:
    """Rows of `view` ('trades' or 'shadow_trades') for the trades whose events satisfy `where` (a condition on
    `_events_wide` rows, e.g. "trace_id = $t"), built from those trades' events alone.

    For one-off lookups (`huracan-obs explain`): when the query layer keeps these as plain views, a filter on
    them still joined every open with every close of the dataset (~1-2 s at 10 M events, per lookup); here two
    scans find the trade's ids, then its events (~0.1 s each). The rows are those of the view: `trades_sql` of
    every event with those ids.
    """
    key, sql, types = (("trade_id", trades_sql, TRADE_EVENT_TYPES[:2]) if view == "trades"
                       else ("shadow_id", shadow_trades_sql, TRADE_EVENT_TYPES[2:]))
    kinds = ", ".join(f"'{t}'" for t in types)
    return (f"WITH _matching AS MATERIALIZED (SELECT {TRADE_EVENT_COLUMNS} FROM _events_wide WHERE event_type IN "
            f"({kinds}) AND {key} IN (SELECT {key} FROM _events_wide WHERE event_type IN ({kinds}) AND {where})) "
            + sql("_matching", None))


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
    # Tables kept up to date by the query layer (trade_tables.py): joining every open with every
    # close of the dataset on each query was the slowest part of every P&L question.
    "trades": "SELECT * FROM _trades",
    "shadow_trades": "SELECT * FROM _shadow_trades",
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
