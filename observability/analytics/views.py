"""The query-layer views analytics read, as column specs, plus analytics' own derived sources.

Why a copy of the contract's columns here: metric expressions in metrics.yaml are checked at
load time against empty tables of exactly these columns (no data needed), and the computer
materialises each view's window once per refresh into a temp table so that one scan serves
every metric of that view. Derived sources (equity curve, daily P&L, per-trace latencies,
shadow outcomes per blocking gate) are SQL over those windowed tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

import duckdb

from observability.core.io.trade_tables import ROW_TIME

TS = "TIMESTAMPTZ"
V = "VARCHAR"
D = "DOUBLE"
B = "BIGINT"

VIEW_COLUMNS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "events": (("seq", B), ("event_id", V), ("event_version", "INTEGER"), ("event_type", V), ("severity", V),
               ("ts_event", TS), ("ts_logged", TS), ("source", V), ("symbol", V), ("mode", V),
               ("trace_id", V), ("payload", V), ("date", "DATE")),
    "signals": (("seq", B), ("event_id", V), ("ts_event", TS), ("symbol", V), ("mode", V), ("trace_id", V),
                ("signal_id", V), ("side", V), ("confidence", D), ("price", D), ("model_id", V), ("strategy", V)),
    "gate_decisions": (("seq", B), ("event_id", V), ("ts_event", TS), ("symbol", V), ("mode", V),
                       ("trace_id", V), ("signal_id", V), ("gate", V), ("passed", "BOOLEAN"), ("value", D),
                       ("threshold", D), ("direction", V), ("margin", D), ("reason", V), ("gate_order", "INTEGER")),
    "trades": (("trade_id", V), ("trace_id", V), ("symbol", V), ("mode", V), ("side", V), ("status", V),
               ("opened_at", TS), ("closed_at", TS), ("price_requested", D), ("entry_price", D),
               ("exit_price", D), ("size", D), ("fees", D), ("entry_slippage_bps", D), ("exit_slippage_bps", D),
               ("pnl_gross", D), ("pnl_net", D), ("pnl_bps", D), ("hold_seconds", D), ("exit_reason", V),
               ("mfe_bps", D), ("mae_bps", D), ("model_id", V), ("model_confidence", D), ("git_sha", V),
               ("data_snapshot_id", V), ("config_hash", V), ("thresholds", V), ("entry_latency_ms", D)),
    "shadow_trades": (("shadow_id", V), ("trace_id", V), ("symbol", V), ("mode", V), ("side", V), ("status", V),
                      ("opened_at", TS), ("closed_at", TS), ("entry_price", D), ("exit_price", D), ("size", D),
                      ("pnl", D), ("pnl_bps", D), ("hold_seconds", D), ("exit_reason", V),
                      ("blocked_by", "VARCHAR[]"), ("mfe_bps", D), ("mae_bps", D)),
    "model_updates": (("seq", B), ("event_id", V), ("ts_event", TS), ("model_id", V), ("parent_model_id", V),
                      ("alias", V), ("metrics", V), ("delta", V), ("git_sha", V), ("data_snapshot_id", V),
                      ("reason", V)),
    "config_changes": (("seq", B), ("event_id", V), ("ts_event", TS), ("key", V), ("gate", V), ("old_value", V),
                       ("new_value", V), ("changed_by", V), ("reason", V), ("config_hash", V)),
    "market_context": (("seq", B), ("ts_event", TS), ("symbol", V), ("price", D), ("bid", D), ("ask", D),
                       ("spread_bps", D), ("volatility_bps", D), ("volume_1m", D), ("liquidity_usd", D),
                       ("regime", V), ("funding_rate", D)),
    "errors": (("seq", B), ("event_id", V), ("ts_event", TS), ("severity", V), ("source", V), ("symbol", V),
               ("trace_id", V), ("component", V), ("error_type", V), ("message", V), ("recoverable", "BOOLEAN")),
    "health": (("ts", TS), ("status", V), ("queue_depth", B), ("queue_maxsize", B), ("fill_ratio", D),
               ("accepted_total", B), ("dropped_total", B), ("dropped_by_severity", V), ("dropped_by_type", V),
               ("written_total", B), ("dead_letter_total", B), ("writer_lag_events", B), ("writer_lag_s", D),
               ("events_per_s", D), ("written_per_s", D), ("kill_switch", "BOOLEAN"),
               ("kill_switch_fired_total", B), ("writer_alive", "BOOLEAN"), ("writer_error", V), ("pid", B)),
}

Scoping = Literal["mode", "scope", "global"]
"""How a source splits by trading mode: a `mode` column (grouped with an 'all' roll-up), a
precomputed `scope` column (each row once per mode and once under 'all'), or not at all."""


@dataclass(frozen=True)
class Source:
    """A view or derived source: where its window time and its evidence ids come from."""

    name: str
    ts: str
    id_col: str
    scoping: Scoping
    bases: tuple[str, ...] = ()
    sql: str = ""
    """For derived sources: SELECT over `{base}` placeholders (windowed base tables)."""
    recent_evidence: bool = True
    """Evidence ids may be looked for among the window's last rows first (metrics_computer); False for a
    source with one row per day, whose last minutes hold no row."""


BASE_SOURCES: Final[dict[str, Source]] = {
    "events": Source("events", "ts_event", "event_id", "mode"),
    "signals": Source("signals", "ts_event", "event_id", "mode"),
    "gate_decisions": Source("gate_decisions", "ts_event", "event_id", "mode"),
    "trades": Source("trades", ROW_TIME, "trade_id", "mode"),
    "shadow_trades": Source("shadow_trades", ROW_TIME, "shadow_id", "mode"),
    "model_updates": Source("model_updates", "ts_event", "event_id", "global"),
    "config_changes": Source("config_changes", "ts_event", "event_id", "global"),
    "market_context": Source("market_context", "ts_event", "CAST(seq AS VARCHAR)", "global"),
    "errors": Source("errors", "ts_event", "event_id", "global"),
    "health": Source("health", "ts", "CAST(epoch_ms(ts) AS VARCHAR)", "global"),
}

_SCOPED_CLOSED = "SELECT *, unnest([mode, 'all']) AS scope FROM {trades} WHERE status = 'closed'"


def utc_date(ts: str) -> str:
    """SQL: the UTC date of TIMESTAMPTZ `ts`, by integer arithmetic on its epoch microseconds (floored, also
    before 1970). Why not `CAST(ts AT TIME ZONE 'UTC' AS DATE)`: that converts through the time zone
    library row by row, 4x slower over the trades of a day."""
    us, day = f"epoch_us({ts})", 86_400_000_000
    return f"(DATE '1970-01-01' + CAST(({us} - (({us} % {day}) + {day}) % {day}) // {day} AS INTEGER))"


def counter_increase(col: str) -> str:
    """The increase of a logger counter since the previous health sample (window `w`, ordered by ts).

    Why not max - min: the counters are cumulative per logger PROCESS and start again at 0 after a
    restart, so max - min over a window spanning a restart reports the old process's total as new
    losses. A changed pid or a fall in the counter is a restart: the whole current value is new.
    The first sample of the window has no predecessor and adds 0.
    """
    prev = f"lag({col}) OVER w"
    return (f"CASE WHEN {prev} IS NULL THEN 0 WHEN pid IS DISTINCT FROM lag(pid) OVER w OR {col} < {prev} "
            f"THEN {col} ELSE {col} - {prev} END")


HEALTH_COUNTERS: Final = {"dropped": "dropped_total", "dead_letters": "dead_letter_total",
                          "kill_switch_fires": "kill_switch_fired_total"}
HEALTH_COUNTERS_SQL: Final = (
    "SELECT ts, pid, writer_alive, "
    + ", ".join(f"{counter_increase(col)} AS {name}" for name, col in HEALTH_COUNTERS.items())
    + " FROM {health} WINDOW w AS (ORDER BY ts)")

_DAILY_FROM_MODE_DAYS: Final = (
    # 'all' from the per-mode days (few rows), not each trade twice.
    " per_day AS (SELECT * FROM m UNION ALL SELECT 'all', d, sum(pnl_net), sum(pnl_gross), sum(fees),"
    "  CAST(sum(trades) AS BIGINT) FROM m GROUP BY d),"
    " cal AS (SELECT CAST(unnest(generate_series(min(d), greatest(max(d), CAST((least({until}, now())"
    "  - INTERVAL 1 MICROSECOND) AT TIME ZONE 'UTC' AS DATE)), INTERVAL 1 DAY)) AS DATE) AS d FROM per_day)"
    " SELECT s.scope, CAST(cal.d AS TIMESTAMPTZ) AS day, strftime(cal.d, '%Y-%m-%d') AS day_id,"
    "  coalesce(p.pnl_net, 0.0) AS pnl_net, coalesce(p.pnl_gross, 0.0) AS pnl_gross,"
    "  coalesce(p.fees, 0.0) AS fees, coalesce(p.trades, 0) AS trades"
    " FROM (SELECT DISTINCT scope FROM per_day) s CROSS JOIN cal"
    " LEFT JOIN per_day p ON p.scope = s.scope AND p.d = cal.d"
)
"""The end of `daily_pnl`'s SQL, from `m`: per mode (`scope`) and UTC day `d`, the sums of pnl_net, pnl_gross and
fees and the count of `trades`."""
DAILY_PNL_FROM_MODE_DAYS: Final = "WITH m AS (SELECT * FROM {days})," + _DAILY_FROM_MODE_DAYS
"""`daily_pnl` from a relation of per-(mode, day) sums (`{days}`, columns as `m` above) instead of the trades."""

DERIVED_SOURCES: Final[dict[str, Source]] = {
    # The equity curve of closed trades in window order, per scope: drawdown = peak - equity,
    # with the peak starting at 0 (a first losing trade is a drawdown).
    "equity": Source(
        "equity", "closed_at", "trade_id", "scope", ("trades",),
        "SELECT *, greatest(max(cum_pnl) OVER w, 0) - cum_pnl AS drawdown FROM ("
        "  SELECT *, sum(pnl_net) OVER (PARTITION BY scope ORDER BY closed_at, trade_id) AS cum_pnl"
        f"  FROM ({_SCOPED_CLOSED})"
        ") WINDOW w AS (PARTITION BY scope ORDER BY closed_at, trade_id)",
    ),
    # Net P&L per UTC day and scope: the series Sharpe and Sortino are computed from. Every UTC day
    # from the first trade close in the window to the window's last day (not beyond today) is in
    # the series; a day without a close is a flat day (0), not a missing one — dropping flat days
    # would inflate both the mean and the Sharpe ratio.
    "daily_pnl": Source(
        "daily_pnl", "day", "day_id", "scope", ("trades",),
        f"WITH c AS (SELECT mode, {utc_date('closed_at')} AS d, pnl_net, pnl_gross, fees"
        "  FROM {trades} WHERE status = 'closed'),"
        " m AS (SELECT mode AS scope, d, sum(pnl_net) AS pnl_net, sum(pnl_gross) AS pnl_gross, sum(fees) AS fees,"
        "  count(*) AS trades FROM c GROUP BY ALL)," + _DAILY_FROM_MODE_DAYS,
        recent_evidence=False,
    ),
    # One row per signal: signal -> last gate -> entry fill, in milliseconds. The fill is looked up in
    # the query layer's whole `trades` view (opened since the window start), not in the window's
    # trades: those are windowed by CLOSE time, so a signal taken near the end of a past window whose
    # trade closed after it was counted as not taken.
    "trace_latency": Source(
        "trace_latency", "ts_event", "trace_id", "mode", ("signals", "gate_decisions"),
        "SELECT s.trace_id, s.mode, s.symbol, s.ts_event, g.last_gate_at, t.opened_at, t.entry_latency_ms,"
        "  (epoch_us(g.last_gate_at) - epoch_us(s.ts_event)) / 1000.0 AS signal_to_decision_ms,"
        "  (epoch_us(t.opened_at) - epoch_us(g.last_gate_at)) / 1000.0 AS decision_to_fill_ms,"
        "  (epoch_us(t.opened_at) - epoch_us(s.ts_event)) / 1000.0 AS signal_to_fill_ms,"
        "  t.trade_id IS NOT NULL AS taken"
        " FROM {signals} s"
        " LEFT JOIN (SELECT trace_id, max(ts_event) AS last_gate_at FROM {gate_decisions} GROUP BY trace_id) g"
        "   ON g.trace_id = s.trace_id"
        " LEFT JOIN (SELECT trace_id, trade_id, opened_at, entry_latency_ms FROM trades"
        "   WHERE opened_at >= {since}) t ON t.trace_id = s.trace_id",
    ),
    # Increases of the logger's cumulative counters per health sample, restarts accounted for.
    "health_counters": Source("health_counters", "ts", "CAST(epoch_ms(ts) AS VARCHAR)", "global", ("health",),
                              HEALTH_COUNTERS_SQL),
    # Each closed shadow trade once per gate that blocked it.
    "shadow_gates": Source(
        "shadow_gates", "closed_at", "shadow_id", "mode", ("shadow_trades",),
        "SELECT * EXCLUDE (blocked_by), unnest(blocked_by) AS gate FROM {shadow_trades} WHERE status = 'closed'",
    ),
}

ALL_SOURCES: Final[dict[str, Source]] = {**BASE_SOURCES, **DERIVED_SOURCES}


def window_table(name: str) -> str:
    return f"_obs_w_{name}"


def empty_catalog() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with empty windowed tables and derived views: for checking expressions."""
    con = duckdb.connect()
    for view, cols in VIEW_COLUMNS.items():
        con.execute(f"CREATE TABLE {window_table(view)} ({', '.join(f'{c} {t}' for c, t in cols)})")
    trades = VIEW_COLUMNS["trades"]  # trace_latency reads the query layer's own view
    con.execute(f"CREATE TABLE trades ({', '.join(f'{c} {t}' for c, t in trades)})")
    for src in DERIVED_SOURCES.values():
        con.execute(f"CREATE VIEW {window_table(src.name)} AS {derived_sql(src)}")
    return con


_NO_START = "TIMESTAMPTZ '1970-01-01 00:00:00+00'"
_NO_END = "TIMESTAMPTZ '9999-12-31 00:00:00+00'"


def derived_sql(src: Source, until: str = _NO_END, since: str = _NO_START) -> str:
    """The source's SELECT over the windowed base tables; `since`/`until` are the window's bounds (literals)."""
    return src.sql.format(since=since, until=until, **{b: window_table(b) for b in src.bases})


def needed_columns(view: str, texts: list[str], sources: set[str]) -> list[str]:
    """Columns of base `view` that the SQL `texts` (metric expressions over it or over derived
    sources built on it) or the derived sources in use may reference — a word match, so it may keep
    a column too many, never one too few — plus what windowing, scoping and evidence need.

    Why: materialising only these columns is 2-4x cheaper than `SELECT *` (UUID strings, JSON text).
    """
    src = BASE_SOURCES[view]
    extra = [d.sql for name, d in DERIVED_SOURCES.items() if name in sources and view in d.bases]
    words = set(re.findall(r"[a-z_][a-z0-9_]*", " ".join([*texts, *extra, src.ts, src.id_col]).lower()))
    return [c for c, _ in VIEW_COLUMNS[view] if c in words or c == "mode"]


def needed_bases(sources: set[str]) -> list[str]:
    """Base views to materialise for these sources, in contract order."""
    need: set[str] = set()
    for s in sources:
        src = ALL_SOURCES[s]
        need.update(src.bases or (s,))
    return [v for v in VIEW_COLUMNS if v in need]


def grouping(src: Source, group_by: str | None) -> tuple[str, str, str]:
    """(scope expression, group output expression, GROUP BY clause) of an aggregate over `src`'s rows
    carrying `_grp` (and `mode` or `scope`): rolled up per mode and overall with GROUPING SETS."""
    # Without group_by the roll-up set is () so that an empty window still yields an 'all' row
    # (count 0, other aggregates NULL) instead of nothing.
    if src.scoping == "mode":
        scope = "CASE WHEN grouping(mode) = 1 THEN 'all' ELSE mode END"
        sets = "(mode, _grp), (_grp)" if group_by else "(mode), ()"
        groups = f" GROUP BY GROUPING SETS ({sets})"
    elif src.scoping == "scope":
        scope, groups = "scope", " GROUP BY scope, _grp"
    else:
        scope, groups = "'all'", " GROUP BY _grp" if group_by else ""
    return scope, "_grp" if group_by else "CAST(NULL AS VARCHAR)", groups


def group_query(src: Source, exprs: list[tuple[str, str]], where: str | None, group_by: str | None,
                evidence: int = 0, relation: str | None = None) -> str:
    """One aggregate query computing every `(alias, expr)` per scope (and per `group_by` value).

    Output columns: scope, grp, _n (rows aggregated), _ids (the `evidence` most recent row ids, by
    a streaming top-n aggregate; among rows of the same time, any), then one column per alias.
    `relation`: rows of the window to read instead of the windowed table (a subset of them).
    """
    grp = f"CAST(({group_by}) AS VARCHAR)" if group_by else "CAST(NULL AS VARCHAR)"
    table = relation or window_table(src.name)
    inner = f"SELECT *, {grp} AS _grp FROM {table}" + (f" WHERE ({where})" if where else "")
    cols = "".join(f', ({expr}) AS "{alias}"' for alias, expr in exprs)
    scope, grp_out, groups = grouping(src, group_by)
    ids = (f"arg_max(CAST({src.id_col} AS VARCHAR), {src.ts}, {evidence})" if evidence > 0
           else "CAST(NULL AS VARCHAR[])")
    return f"SELECT {scope} AS scope, {grp_out} AS grp, count(*) AS _n, {ids} AS _ids{cols} FROM ({inner}){groups}"
