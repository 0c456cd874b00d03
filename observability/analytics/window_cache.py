"""Windowed copies of the query layer's views, kept in the reader's DuckDB between refreshes.

Why: a refresh every few seconds must not rescan a day of Parquet. For a LIVE window (ending
within `LIVE_SLACK` of now) the append-only views (every view with a `seq`, and `health` by its
`ts`) are held from `since` onwards and only rows with a key above the last one seen are added;
rows that slid out of the window are deleted. The new rows of all those views come from ONE scan
of the query layer above the lowest seq they have seen (`_obs_new_rows`). `trades` and
`shadow_trades` (a close updates an open trade's row) are read in place when the query layer keeps
them as tables (it updates them incrementally; trade_changes.py says which minutes changed), else
copied each time. Historical windows are rebuilt each time, bounded on both sides. Each base view
is copied with only the columns some metric may read.
Metric queries read `_obs_w_<view>`: a view over the held table filtered to the exact window.
Derived sources: `trace_latency` (trace_latency.py) and `equity` (equity.py) are kept up to date
for live windows, `shadow_gates` gets minute partials like the in-place view it unnests; the others
are their SQL, computed once into a temp table when several metric groups read them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import duckdb

from observability.analytics.buckets import BUCKET_US, HeldView, in_spans, key_literal, minute_spans, us_literal
from observability.analytics.equity import DAYS as EQUITY_DAYS
from observability.analytics.equity import EquityCache, register_equity
from observability.analytics.quantiles import QuantileSource
from observability.analytics.trace_latency import TraceLatencyCache
from observability.analytics.trade_changes import TABLES, TradeChanges
from observability.analytics.views import (
    ALL_SOURCES,
    BASE_SOURCES,
    DAILY_PNL_FROM_MODE_DAYS,
    DERIVED_SOURCES,
    derived_sql,
    needed_columns,
    window_table,
)
from observability.analytics.windows import Window, window_us
from observability.core.io.columns import WIDE_SCHEMA
from observability.core.io.query import LIVE_FROM_VARIABLE, NEW_FROM_VARIABLE, OTHER_BOXES_VARIABLE
from observability.core.io.views import VIEWS

LIVE_SLACK: Final = timedelta(seconds=120)
APPEND_KEYS: Final[dict[str, str]] = {
    "events": "seq", "signals": "seq", "gate_decisions": "seq", "model_updates": "seq",
    "config_changes": "seq", "market_context": "seq", "errors": "seq", "health": "ts",
}
WIDE: Final = "_events_wide"
"""The query layer's union of Parquet and live rows that its views select from (core/io/views.py)."""
NEW_ROWS: Final = "_obs_new_rows"
LIVE: Final = "_live"
"""The query layer's live rows: every row of this box above its export watermark (Parquet holds the rest)."""
IN_PLACE: Final[dict[str, str]] = TABLES
"""Views the query layer may keep as tables (read in place then, not copied)."""
ON_IN_PLACE: Final[dict[str, str]] = {"shadow_gates": "shadow_trades"}
"""Derived sources whose rows are rows of an in-place view (filtered to closed, unnested), in the same
minute (for a closed trade its close time is the view's time): their minute partials follow the
view's changed minutes."""


def held_table(view: str) -> str:
    return f"_obs_h_{view}"


def edge_table(view: str) -> str:
    """The held rows of the window start's minute: the rows of its partial first minute are read from it at each
    refresh (the held table is in arrival order, its row groups each span hours: a scan for a minute of it read a
    million rows per metric group, and sorting it cost a second of the first refresh)."""
    return f"_obs_e_{view}"


@dataclass
class _Held:
    cols: str
    since: datetime
    max_key: object
    generation: int
    latest_us: int | None = None
    """No held row has a time after this (µs since the epoch; an upper bound, None: unknown)."""
    edge: int | None = None
    """The minute whose held rows `edge_table` holds."""
    trimmed: int | None = None
    """The minute (of the window start) rows before whose start were last deleted: once per minute, not at each
    refresh (a statement per held view; every reader filters the held rows by the window or by key)."""


class WindowCache:
    """Materialises base views for a window, incrementally for live windows."""

    def __init__(self, con: duckdb.DuckDBPyConnection, *, incremental: bool = True) -> None:
        """`incremental=False`: every window is rebuilt and every derived source is its plain SQL (the
        reference the incremental paths are tested against)."""
        self.con = con
        self.incremental = incremental
        self._held: dict[str, _Held] = {}
        self._generation = 0
        self._derived: dict[str, str] = {}
        self.trace_latency = TraceLatencyCache(con)
        self.changes = TradeChanges(con)
        self.equity = EquityCache(con)
        self._in_place: dict[str, HeldView] = {}
        self._trace_latency: HeldView | None = None
        """`trace_latency` as a view updated in place, when the last call kept it exactly (trace_latency.py)."""
        self._types: dict[str, dict[str, str]] = {}
        """DuckDB type of each column of the relations new rows are staged from."""
        self._recent_columns: dict[str, list[str]] = {}
        """Columns of each in-place view's recent table: every column any earlier call asked for too
        (partials tables of earlier calls are updated from it)."""
        self.last: dict[str, str] = {}
        """How each view was prepared by the last call: 'appended', 'rebuilt' or 'in_place' (for tests and
        benches)."""

    def held(self, view: str) -> HeldView | None:
        """The held table of a view prepared incrementally (live window) by the last call, else None;
        for a view read in place, the query layer's table with the buckets changed since the last call."""
        if view == "trace_latency":
            return self._trace_latency
        base = ON_IN_PLACE.get(view)
        if base is not None:
            held = self.held(base)
            if held is None or held.changed is None:
                return None
            def over(rows: str | None) -> str | None:
                return None if rows is None else f"({DERIVED_SOURCES[view].sql.format(**{base: rows})})"
            return replace(held, table=str(over(base)), recent=over(held.recent), came=over(held.came),
                           open=over(held.open))
        if view in self._in_place and self.last.get(view) == "in_place":
            return self._in_place[view]
        h = self._held.get(view)
        key = APPEND_KEYS.get(view)
        if h is None or key is None or self.last.get(view) not in ("appended", "rebuilt"):
            return None
        return HeldView(held_table(view), key, h.generation, h.max_key, latest_us=h.latest_us,
                        edge=None if h.edge is None else (edge_table(view), h.edge))

    def quantile_source(self, view: str) -> QuantileSource | None:
        """The rows of a view kept up to date between live refreshes (an in-place trade view, or
        `trace_latency` kept per trace), for the quantile cache; None otherwise."""
        held = self.held(view) if view in IN_PLACE or view == "trace_latency" else None
        if held is None or held.changed is None or held.recent is None:
            return None
        return QuantileSource(held.table, held.recent, ALL_SOURCES[view].ts, held.generation, held.since_key,
                              held.max_key, list(held.minutes), came=held.came, open=held.open, kept=held.kept)

    def _appendable(self, view: str, cols_list: list[str], window: Window, live: bool) -> bool:
        key = APPEND_KEYS.get(view) if live else None
        held = self._held.get(view)
        cols = ", ".join(cols_list + ([key] if key is not None and key not in cols_list else []))
        return key is not None and held is not None and held.cols == cols and window.since >= held.since

    def _stage_new_rows(self, window: Window, columns: dict[str, list[str]],
                        live: bool) -> tuple[int, int | None, int | None] | None:
        """Copy the query layer's rows above the lowest held seq once, so that each held view appends
        from that small table instead of scanning the whole dataset again (one scan, not one per view).
        Returns the top seq staged (every view appended from it has seen all rows up to it) and the latest and
        earliest event times among the staged rows (µs; None: unknown), None when nothing was staged."""
        views = [v for v, c in columns.items()
                 if APPEND_KEYS.get(v) == "seq" and v in VIEWS and self._appendable(v, c, window, live)]
        if not views:
            return None
        # The wide columns those views' SQL names (a word match: maybe one too many, never too few); copied
        # only where a held table keeps them (a view column of the same name; else every column its SQL
        # names), the others typed NULLs of a view over the copy: copying a column, even a NULL one, costs
        # as much as reading it from the live rows.
        words = set(re.findall(r"[a-z_][a-z0-9_]*", " ".join(VIEWS[v] for v in views).lower()))
        kept = {"seq", "event_type"}
        for v in views:
            if all(c in WIDE_SCHEMA.names for c in columns[v]):
                kept.update(columns[v])
            else:
                kept.update(re.findall(r"[a-z_][a-z0-9_]*", VIEWS[v].lower()))
        low = min(int(str(self._held[v].max_key)) for v in views)  # a literal: a parameter defeats pruning
        source = self._source_above(low)
        if source not in self._types:
            self._types[source] = {str(r[0]): str(r[1]) for r in self.con.execute(f"DESCRIBE {source}").fetchall()}
        types = self._types[source]
        names = [n for n in WIDE_SCHEMA.names if n in words or n == "seq"]
        copied = ", ".join(f'"{n}"' for n in names if n in kept)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {NEW_ROWS}_t AS SELECT {copied} FROM {source} "
                         f"WHERE seq > {low}")
        wide = ", ".join(f'"{n}"' if n in kept else f'CAST(NULL AS {types[n]}) AS "{n}"' for n in names)
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {NEW_ROWS} AS SELECT {wide} FROM {NEW_ROWS}_t")
        times = ("coalesce(epoch_us(max(ts_event)), 0), coalesce(epoch_us(min(ts_event)), 9223372036854775807)"
                 if "ts_event" in kept else "NULL, NULL")
        row = self.con.execute(f"SELECT coalesce(max(seq), 0), {times} FROM {NEW_ROWS}_t").fetchone()
        assert row is not None  # an aggregate without GROUP BY returns one row
        latest, earliest = (None if t is None else int(t) for t in row[1:])
        return int(row[0]), latest, earliest

    def _source_above(self, low: int) -> str:
        """The smallest relation of the query layer holding every row above `low`: the rows its last
        refresh read (`_live_new`), else every live row (`_live`), else the whole union. Why: the union's
        Parquet side costs a footer and stats check per file even when no file has a row above `low`
        (a third of a warm refresh at 10 M events), and a scan of every live row costs as much again."""
        try:
            row = self.con.execute(f"SELECT getvariable('{LIVE_FROM_VARIABLE}'), getvariable('{NEW_FROM_VARIABLE}'), "
                                   f"coalesce(getvariable('{OTHER_BOXES_VARIABLE}'), false)").fetchall()[0]
        except duckdb.Error:  # a connection that is not the query layer's
            return WIDE
        if row[0] is None or row[2] or int(row[0]) > low:  # other boxes' rows: any seq
            return WIDE
        return "_live_new" if row[1] is not None and int(row[1]) <= low + 1 else LIVE

    def _other_boxes(self) -> bool:
        """Other boxes' files count in the query layer: seq then orders only this box's rows, so the
        append-by-seq path could miss or repeat theirs; every window is rebuilt instead."""
        row = self.con.execute(f"SELECT coalesce(getvariable('{OTHER_BOXES_VARIABLE}'), false)").fetchone()
        return bool(row and row[0])

    def _with_recent(self, view: str, cols_list: list[str], changes: HeldView, window: Window) -> HeldView:
        """`changes` with its recent table: the view's kept (closed) rows in the changed buckets (past the window's
        end too), in the window's first minute, and in its last one unless no kept row lies at or past the window's
        end; and its open rows; each with only the columns metrics read.
        Why: one narrow scan of the in-place table per refresh, instead of one full-width scan per changed-rows
        copy and per metric group's edges."""
        known = self._recent_columns.get(view, [])
        cols = known + [c for c in cols_list if c not in known]
        self._recent_columns[view] = cols
        lo_us, hi_us = window_us(window)
        # Changed buckets past the window's end too (a close logged ahead of this clock): their partials are
        # recomputed from these rows now, and never again when the window reaches them.
        buckets = {lo_us // BUCKET_US, *changes.minutes}
        if changes.latest_us is None or changes.latest_us >= hi_us:
            buckets.add(hi_us // BUCKET_US)
        table, stored = f"_obs_recent_{view}", IN_PLACE[view]
        # Rows found by scans of the close time alone, each a range that skips the row groups outside it (the
        # table is in time order but for its updated rows, appended), then fetched by rowid: a filtered scan reads
        # every projected column of every row.
        found = " UNION ALL ".join(f"SELECT rowid FROM {stored} WHERE {in_spans('closed_at', [span])}"
                                   for span in minute_spans(list(buckets)))
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {', '.join(cols)} FROM {stored} "
                         f"WHERE rowid IN ({found})")
        opened = None if changes.open is None else f"(SELECT {', '.join(cols)} FROM {changes.open})"
        return replace(changes, recent=table, open=opened)

    def _top(self, table: str, key: str, ts: str) -> tuple[Any, int]:
        """A held table's highest key (None when empty) and its latest row time (µs; 0 when empty)."""
        ((top, latest),) = self.con.execute(f"SELECT max({key}), coalesce(epoch_us(max({ts})), 0) FROM {table}"
                                            ).fetchall()
        return top, int(latest)

    def _edge(self, view: str, held: _Held, ts: str, minute: int) -> None:
        """Keep the held rows of `minute` (the window start's) in `edge_table`: once per minute of the start."""
        lo, hi = us_literal(minute * BUCKET_US), us_literal((minute + 1) * BUCKET_US)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {edge_table(view)} AS SELECT * FROM {held_table(view)} "
                         f"WHERE {ts} >= {lo} AND {ts} < {hi}")
        held.edge = minute

    def prepare(self, window: Window, columns: dict[str, list[str]], derived: dict[str, int],
                equity_columns: list[str] | None = None) -> int:
        """Make `_obs_w_<view>` ready for every base view in `columns` and every derived source (with
        the number of metric groups reading it; `equity_columns`: the trade columns its metrics read);
        returns the number of statements that read the query layer."""
        since, until = window.sql_bounds()
        live = self.incremental and window.until >= datetime.now(UTC) - LIVE_SLACK and not self._other_boxes()
        reads = 0
        self.equity.forget()
        tables = {r[0] for r in self.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        staged = self._stage_new_rows(window, columns, live)
        for view, cols_list in columns.items():
            ts = BASE_SOURCES[view].ts
            if IN_PLACE.get(view) in tables:
                self.last[view] = "in_place"
                self._held.pop(view, None)
                changes = self.changes.update(view, tables) if live else None
                if changes is None:
                    self._in_place.pop(view, None)
                else:
                    self._in_place[view] = self._with_recent(view, cols_list, changes, window)
                if held_table(view) in tables:
                    self.con.execute(f"DROP TABLE {held_table(view)}")
                self.con.execute(f"CREATE OR REPLACE TEMP VIEW {window_table(view)} AS SELECT * FROM {view} "
                                 f"WHERE {ts} >= {since} AND {ts} < {until}")
                continue
            key = APPEND_KEYS.get(view) if live else None
            cols = ", ".join(cols_list + ([key] if key is not None and key not in cols_list else []))
            held = self._held.get(view)
            table = held_table(view)
            if key is not None and held is not None and held.cols == cols and window.since >= held.since:
                minute = window_us(window)[0] // BUCKET_US
                if held.trimmed != minute:
                    self.con.execute(f"DELETE FROM {table} WHERE {ts} < {since}")
                    held.trimmed = minute
                body = f"({VIEWS[view].replace(WIDE, NEW_ROWS)})" if key == "seq" and staged is not None else view
                new = f"SELECT {cols} FROM {body} WHERE {key} > {key_literal(held.max_key)} AND {ts} >= {since}"
                self.con.execute(f"INSERT INTO {table} {new}")
                if held.edge != minute:
                    self._edge(view, held, ts, minute)
                elif key == "seq" and (staged is None or staged[2] is None or staged[2] < (minute + 1) * BUCKET_US):
                    self.con.execute(f"INSERT INTO {edge_table(view)} {new} AND {ts} < "  # late rows of that minute
                                     f"{us_literal((minute + 1) * BUCKET_US)}")
                if key == "seq" and staged is not None:  # every new row was staged, a rare type's too
                    held.max_key = max(int(str(held.max_key)), staged[0])
                    held.latest_us = (None if held.latest_us is None or staged[1] is None
                                      else max(held.latest_us, staged[1]))
                else:
                    top, held.latest_us = self._top(table, key, ts)
                    if top is not None:
                        held.max_key = max(held.max_key, top)
                held.since = window.since
                self.last[view] = "appended"
            else:
                self.last[view] = "rebuilt"
                upper = "" if key is not None else f" AND {ts} < {until}"
                self.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {cols} FROM {view} "
                                 f"WHERE {ts} >= {since}{upper}")
                self._held.pop(view, None)
                if key is not None:
                    top, latest = self._top(table, key, ts)
                    start = top if top is not None else (0 if key == "seq" else window.since)
                    self._generation += 1
                    self._held[view] = _Held(cols=cols, since=window.since, max_key=start,
                                             generation=self._generation, latest_us=latest)
                    self._edge(view, self._held[view], ts, window_us(window)[0] // BUCKET_US)
            reads += 1
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW {window_table(view)} AS SELECT * FROM {table} "
                             f"WHERE {ts} >= {since} AND {ts} < {until}")
        # Every view was read from the same snapshot of the query layer (it changes only in refresh()):
        # each held view has seen every row up to the highest seq any of them holds.
        seq_held = [h for v, h in self._held.items() if APPEND_KEYS.get(v) == "seq" and v in columns]
        if seq_held:
            # Every row up to the export watermark was in that snapshot too (its files count whole).
            ((floor,),) = self.con.execute(f"SELECT coalesce(getvariable('{LIVE_FROM_VARIABLE}'), 0)").fetchall()
            top = max(int(floor), *(int(str(h.max_key)) for h in seq_held))
            for h in seq_held:
                h.max_key = top
        # Closed trades of the window in curve order, kept between refreshes (equity.py): the equity curve and
        # the daily P&L both read them (the daily P&L scanned every trade of the window otherwise), the latter
        # as their sums per mode and day.
        trades = self._in_place.get("trades") if self.last.get("trades") == "in_place" else None
        kept_closes = None
        if self.incremental and trades is not None and derived.keys() & {"equity", "daily_pnl"}:
            read = list(dict.fromkeys([*(equity_columns or []), *needed_columns("trades", [], {"daily_pnl"})]))
            kept_closes = self.equity.register(read, trades, *window_us(window), days="daily_pnl" in derived)
        for name, readers in derived.items():
            own_sql: str | None = None
            if name == "trace_latency":
                signals, gates = self.held("signals"), self.held("gate_decisions")
                own_sql = self.trace_latency.view_sql(signals, gates, since, until, tables)
                self.last[name] = "derived" if own_sql is None else "incremental"
                self._trace_latency = None if own_sql is None else self.trace_latency.held(*window_us(window))
            elif name == "equity" and self.incremental:
                own_sql = kept_closes or register_equity(self.con, equity_columns or [])
            elif name == "daily_pnl" and kept_closes is not None:
                own_sql = DAILY_PNL_FROM_MODE_DAYS.format(until=until, days=EQUITY_DAYS)
            # Several readers of a source computed from scratch: compute it once, into a table.
            kind = "TABLE" if readers > 1 and own_sql is None else "VIEW"
            before = self._derived.get(name)
            if before is not None and before != kind:
                self.con.execute(f"DROP {before} {window_table(name)}")
            self._derived[name] = kind
            self.con.execute(f"CREATE OR REPLACE TEMP {kind} {window_table(name)} AS "
                             f"{own_sql or derived_sql(DERIVED_SOURCES[name], until, since)}")
        return reads
