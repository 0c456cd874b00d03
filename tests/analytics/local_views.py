"""TEMPORARY stand-in for the query layer until observability.core.io.query lands: the contract's
views built from live.db rows with DuckDB JSON functions. Tests use QueryLayer when it exists."""

from __future__ import annotations

import sqlite3

import duckdb
import pyarrow as pa

from observability.paths import DataLayout

J = "json_extract_string(payload, '$.{0}')"
JD = "CAST(json_extract(payload, '$.{0}') AS DOUBLE)"


def _s(*names: str) -> str:
    return ", ".join(f"{J.format(n)} AS {n.split('.')[-1]}" for n in names)


def _d(*names: str) -> str:
    return ", ".join(f"{JD.format(n)} AS {n.replace('.', '_')}" for n in names)


def connect(layout: DataLayout) -> duckdb.DuckDBPyConnection:
    src = sqlite3.connect(f"file:{layout.live_db}?mode=ro", uri=True)
    cur = src.execute("SELECT seq, event_id, event_version, event_type, severity, ts_event, ts_logged, source, "
                      "symbol, mode, trace_id, payload FROM live_feed ORDER BY seq")
    cols = [d[0] for d in cur.description]
    rows = cur.fetchall()
    hcur = src.execute("SELECT * FROM health")
    hcols = [d[0] for d in hcur.description]
    hrows = hcur.fetchall()
    src.close()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    raw = pa.table({c: [r[i] for r in rows] for i, c in enumerate(cols)}) if rows else None
    if raw is None:
        con.execute("CREATE TABLE _lf (seq BIGINT, event_id VARCHAR, event_version INT, event_type VARCHAR, "
                    "severity VARCHAR, ts_event BIGINT, ts_logged BIGINT, source VARCHAR, symbol VARCHAR, "
                    "mode VARCHAR, trace_id VARCHAR, payload VARCHAR)")
    else:
        con.register("_raw", raw)
        con.execute("CREATE TABLE _lf AS SELECT * FROM _raw")
    con.execute("""CREATE VIEW events AS SELECT seq, event_id, event_version, event_type, severity,
        CAST(make_timestamp(ts_event) AS TIMESTAMPTZ) AS ts_event,
        CAST(make_timestamp(ts_logged) AS TIMESTAMPTZ) AS ts_logged, source, symbol, mode,
        trace_id, payload, CAST(CAST(make_timestamp(ts_event) AS TIMESTAMPTZ) AS DATE) AS date FROM _lf""")

    def of(et: str, cols: str) -> str:
        return f"SELECT {cols} FROM events WHERE event_type = '{et}'"

    con.execute("CREATE VIEW signals AS " + of("signal_received",
        "seq, event_id, ts_event, symbol, mode, trace_id, " + _s("signal_id", "side") + ", "
        + _d("confidence", "price") + ", " + _s("model_id", "strategy")))
    con.execute("CREATE VIEW gate_decisions AS " + of("gate_decision",
        "seq, event_id, ts_event, symbol, mode, trace_id, " + _s("signal_id", "gate")
        + ", CAST(json_extract(payload, '$.passed') AS BOOLEAN) AS passed, " + _d("value", "threshold")
        + ", " + _s("direction") + ", " + _d("margin") + ", " + _s("reason")
        + ", CAST(json_extract(payload, '$.gate_order') AS INTEGER) AS gate_order"))
    con.execute(f"""CREATE VIEW trades AS
        WITH o AS ({of('trade_opened', '*')}), c AS ({of('trade_closed', '*')})
        SELECT coalesce({J.format('trade_id').replace('payload', 'o.payload')},
                        {J.format('trade_id').replace('payload', 'c.payload')}) AS trade_id,
          coalesce(o.trace_id, c.trace_id) AS trace_id, coalesce(o.symbol, c.symbol) AS symbol,
          coalesce(o.mode, c.mode) AS mode,
          coalesce(json_extract_string(o.payload, '$.side'), json_extract_string(c.payload, '$.side')) AS side,
          CASE WHEN c.event_id IS NULL THEN 'open' ELSE 'closed' END AS status,
          o.ts_event AS opened_at, c.ts_event AS closed_at,
          CAST(json_extract(o.payload, '$.execution.price_requested') AS DOUBLE) AS price_requested,
          coalesce(CAST(json_extract(c.payload, '$.entry_price') AS DOUBLE),
                   CAST(json_extract(o.payload, '$.execution.price_filled') AS DOUBLE)) AS entry_price,
          CAST(json_extract(c.payload, '$.exit_price') AS DOUBLE) AS exit_price,
          coalesce(CAST(json_extract(c.payload, '$.size') AS DOUBLE),
                   CAST(json_extract(o.payload, '$.execution.size_filled') AS DOUBLE)) AS size,
          coalesce(CAST(json_extract(c.payload, '$.fees') AS DOUBLE),
                   CAST(json_extract(o.payload, '$.execution.fees') AS DOUBLE)) AS fees,
          CAST(json_extract(o.payload, '$.execution.slippage_bps') AS DOUBLE) AS entry_slippage_bps,
          CAST(json_extract(c.payload, '$.exit_execution.slippage_bps') AS DOUBLE) AS exit_slippage_bps,
          CAST(json_extract(c.payload, '$.pnl_gross') AS DOUBLE) AS pnl_gross,
          CAST(json_extract(c.payload, '$.pnl_net') AS DOUBLE) AS pnl_net,
          CAST(json_extract(c.payload, '$.pnl_bps') AS DOUBLE) AS pnl_bps,
          CAST(json_extract(c.payload, '$.hold_seconds') AS DOUBLE) AS hold_seconds,
          json_extract_string(c.payload, '$.exit_reason') AS exit_reason,
          CAST(json_extract(c.payload, '$.mfe_bps') AS DOUBLE) AS mfe_bps,
          CAST(json_extract(c.payload, '$.mae_bps') AS DOUBLE) AS mae_bps,
          json_extract_string(o.payload, '$.model_id') AS model_id,
          CAST(json_extract(o.payload, '$.model_confidence') AS DOUBLE) AS model_confidence,
          json_extract_string(o.payload, '$.git_sha') AS git_sha,
          json_extract_string(o.payload, '$.data_snapshot_id') AS data_snapshot_id,
          json_extract_string(o.payload, '$.config_hash') AS config_hash,
          CAST(json_extract(o.payload, '$.thresholds') AS VARCHAR) AS thresholds,
          CAST(json_extract(o.payload, '$.execution.latency_ms') AS DOUBLE) AS entry_latency_ms
        FROM o FULL OUTER JOIN c
          ON json_extract_string(o.payload, '$.trade_id') = json_extract_string(c.payload, '$.trade_id')""")
    con.execute(f"""CREATE VIEW shadow_trades AS
        WITH o AS ({of('shadow_trade_opened', '*')}), c AS ({of('shadow_trade_closed', '*')})
        SELECT coalesce(json_extract_string(o.payload, '$.shadow_id'),
                        json_extract_string(c.payload, '$.shadow_id')) AS shadow_id,
          coalesce(o.trace_id, c.trace_id) AS trace_id, coalesce(o.symbol, c.symbol) AS symbol,
          coalesce(o.mode, c.mode) AS mode,
          coalesce(json_extract_string(o.payload, '$.side'), json_extract_string(c.payload, '$.side')) AS side,
          CASE WHEN c.event_id IS NULL THEN 'open' ELSE 'closed' END AS status,
          o.ts_event AS opened_at, c.ts_event AS closed_at,
          coalesce(CAST(json_extract(c.payload, '$.entry_price') AS DOUBLE),
                   CAST(json_extract(o.payload, '$.entry_price') AS DOUBLE)) AS entry_price,
          CAST(json_extract(c.payload, '$.exit_price') AS DOUBLE) AS exit_price,
          coalesce(CAST(json_extract(c.payload, '$.size') AS DOUBLE),
                   CAST(json_extract(o.payload, '$.size') AS DOUBLE)) AS size,
          CAST(json_extract(c.payload, '$.pnl') AS DOUBLE) AS pnl,
          CAST(json_extract(c.payload, '$.pnl_bps') AS DOUBLE) AS pnl_bps,
          CAST(json_extract(c.payload, '$.hold_seconds') AS DOUBLE) AS hold_seconds,
          json_extract_string(c.payload, '$.exit_reason') AS exit_reason,
          CAST(coalesce(json_extract(c.payload, '$.blocked_by'), json_extract(o.payload, '$.blocked_by'))
               AS VARCHAR[]) AS blocked_by,
          CAST(json_extract(c.payload, '$.mfe_bps') AS DOUBLE) AS mfe_bps,
          CAST(json_extract(c.payload, '$.mae_bps') AS DOUBLE) AS mae_bps
        FROM o FULL OUTER JOIN c
          ON json_extract_string(o.payload, '$.shadow_id') = json_extract_string(c.payload, '$.shadow_id')""")
    con.execute("CREATE VIEW model_updates AS " + of("model_updated",
        "seq, event_id, ts_event, " + _s("model_id", "parent_model_id", "alias")
        + ", CAST(json_extract(payload, '$.metrics') AS VARCHAR) AS metrics"
        + ", CAST(json_extract(payload, '$.delta') AS VARCHAR) AS delta, "
        + _s("git_sha", "data_snapshot_id", "reason")))
    con.execute("CREATE VIEW config_changes AS " + of("config_changed",
        "seq, event_id, ts_event, " + _s("key", "gate")
        + ", CAST(json_extract(payload, '$.old_value') AS VARCHAR) AS old_value"
        + ", CAST(json_extract(payload, '$.new_value') AS VARCHAR) AS new_value, "
        + _s("changed_by", "reason", "config_hash")))
    con.execute("CREATE VIEW market_context AS " + of("market_context",
        "seq, ts_event, symbol, " + _d("price", "bid", "ask", "spread_bps", "volatility_bps", "volume_1m",
                                       "liquidity_usd") + ", " + _s("regime") + ", " + _d("funding_rate")))
    con.execute("CREATE VIEW errors AS " + of("error",
        "seq, event_id, ts_event, severity, source, symbol, trace_id, "
        + _s("component", "error_type", "message")
        + ", CAST(json_extract(payload, '$.recoverable') AS BOOLEAN) AS recoverable"))
    if hrows:
        con.register("_hraw", pa.table({c: [r[i] for r in hrows] for i, c in enumerate(hcols)}))
        con.execute("""CREATE TABLE _h AS SELECT * EXCLUDE (ts, kill_switch, writer_alive),
            CAST(make_timestamp(ts) AS TIMESTAMPTZ) AS ts, kill_switch::BOOLEAN AS kill_switch,
            writer_alive::BOOLEAN AS writer_alive FROM _hraw""")
    else:
        con.execute("CREATE TABLE _h (ts TIMESTAMPTZ, status VARCHAR, queue_depth BIGINT, queue_maxsize BIGINT, "
                    "fill_ratio DOUBLE, accepted_total BIGINT, dropped_total BIGINT, dropped_by_severity VARCHAR, "
                    "dropped_by_type VARCHAR, written_total BIGINT, dead_letter_total BIGINT, "
                    "writer_lag_events BIGINT, writer_lag_s DOUBLE, events_per_s DOUBLE, written_per_s DOUBLE, "
                    "kill_switch BOOLEAN, kill_switch_fired_total BIGINT, writer_alive BOOLEAN, "
                    "writer_error VARCHAR, pid BIGINT)")
    con.execute("CREATE VIEW health AS SELECT ts, status, queue_depth, queue_maxsize, fill_ratio, accepted_total, "
                "dropped_total, dropped_by_severity, dropped_by_type, written_total, dead_letter_total, "
                "writer_lag_events, writer_lag_s, events_per_s, written_per_s, kill_switch, "
                "kill_switch_fired_total, writer_alive, writer_error, pid FROM _h")
    return con
