"""journal.db DDL: trades, trade_features, trade_outcomes, shadow_trades, gate counts and views.

Timestamps are INTEGER µs since the epoch (UTC), like live.db. Versioned in `schema_meta`
exactly like live.db, so an older reader refuses a newer file with a one-line error.
"""

from __future__ import annotations

from typing import Final

JOURNAL_SCHEMA_VERSION: Final = 1

JOURNAL_DDL: Final = """
CREATE TABLE IF NOT EXISTS schema_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS projection_state (
  source TEXT PRIMARY KEY,
  projected_seq INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS trades (
  trade_id TEXT PRIMARY KEY,
  trace_id TEXT,
  signal_id TEXT,
  symbol TEXT,
  mode TEXT,
  side TEXT,
  status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
  opened_at INTEGER,
  closed_at INTEGER,
  price_requested REAL,
  entry_price REAL,
  exit_price REAL,
  size REAL,
  entry_fees REAL,
  entry_slippage_bps REAL,
  entry_latency_ms REAL,
  model_id TEXT,
  model_confidence REAL,
  stop_loss REAL,
  take_profit REAL,
  thresholds TEXT,
  config_hash TEXT,
  git_sha TEXT,
  data_snapshot_id TEXT,
  open_seq INTEGER,
  close_seq INTEGER
);
CREATE INDEX IF NOT EXISTS trades_mode_closed ON trades(mode, closed_at);
CREATE INDEX IF NOT EXISTS trades_symbol ON trades(symbol, opened_at);
CREATE INDEX IF NOT EXISTS trades_trace ON trades(trace_id);
CREATE INDEX IF NOT EXISTS trades_model ON trades(model_id);
CREATE TABLE IF NOT EXISTS trade_outcomes (
  trade_id TEXT PRIMARY KEY,
  closed_at INTEGER NOT NULL,
  exit_price REAL NOT NULL,
  pnl_gross REAL NOT NULL,
  fees REAL NOT NULL,
  pnl_net REAL NOT NULL,
  pnl_bps REAL NOT NULL,
  hold_seconds REAL NOT NULL,
  exit_reason TEXT NOT NULL,
  mfe_bps REAL,
  mae_bps REAL,
  exit_slippage_bps REAL,
  win INTEGER NOT NULL CHECK (win IN (0, 1)),
  seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS trade_outcomes_closed ON trade_outcomes(closed_at);
CREATE TABLE IF NOT EXISTS trade_features (
  trade_id TEXT NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('float', 'int', 'bool', 'text')),
  value_real REAL,
  value_text TEXT,
  source TEXT NOT NULL,
  PRIMARY KEY (trade_id, name)
);
CREATE INDEX IF NOT EXISTS trade_features_name ON trade_features(name);
CREATE TABLE IF NOT EXISTS shadow_trades (
  shadow_id TEXT PRIMARY KEY,
  trace_id TEXT,
  signal_id TEXT,
  symbol TEXT,
  mode TEXT,
  side TEXT,
  status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
  opened_at INTEGER,
  closed_at INTEGER,
  entry_price REAL,
  exit_price REAL,
  size REAL,
  pnl REAL,
  pnl_bps REAL,
  hold_seconds REAL,
  exit_reason TEXT,
  blocked_by TEXT,
  mfe_bps REAL,
  mae_bps REAL,
  open_seq INTEGER,
  close_seq INTEGER
);
CREATE INDEX IF NOT EXISTS shadow_trades_mode ON shadow_trades(mode, closed_at);
CREATE TABLE IF NOT EXISTS gate_daily (
  day TEXT NOT NULL,
  gate TEXT NOT NULL,
  mode TEXT NOT NULL,
  evaluated INTEGER NOT NULL,
  passed INTEGER NOT NULL,
  margin_sum REAL NOT NULL,
  PRIMARY KEY (day, gate, mode)
);
CREATE VIEW IF NOT EXISTS win_rate_by_mode AS
  SELECT t.mode AS mode, count(*) AS trades, sum(o.win) AS wins,
         1.0 * sum(o.win) / count(*) AS win_rate, sum(o.pnl_net) AS pnl_net,
         avg(o.pnl_bps) AS avg_pnl_bps, sum(o.fees) AS fees
  FROM trades t JOIN trade_outcomes o ON o.trade_id = t.trade_id
  GROUP BY t.mode;
CREATE VIEW IF NOT EXISTS shadow_trades_summary AS
  SELECT mode, count(*) AS shadow_trades, sum(status = 'closed') AS closed,
         sum(status = 'closed' AND pnl > 0) AS would_win,
         1.0 * sum(status = 'closed' AND pnl > 0) / nullif(sum(status = 'closed'), 0) AS would_win_rate,
         sum(pnl) AS pnl, avg(pnl_bps) AS avg_pnl_bps
  FROM shadow_trades GROUP BY mode;
CREATE VIEW IF NOT EXISTS shadow_trades_by_gate AS
  SELECT g.value AS gate, s.mode AS mode, count(*) AS shadow_trades,
         sum(s.status = 'closed' AND s.pnl > 0) AS would_win, sum(s.pnl) AS pnl
  FROM shadow_trades s, json_each(s.blocked_by) g GROUP BY g.value, s.mode;
CREATE VIEW IF NOT EXISTS gate_pass_rate AS
  SELECT gate, mode, sum(evaluated) AS evaluated, sum(passed) AS passed,
         1.0 * sum(passed) / sum(evaluated) AS pass_rate, sum(margin_sum) / sum(evaluated) AS avg_margin
  FROM gate_daily GROUP BY gate, mode;
"""
