"""`trace_latency` for a live window, kept up to date per trace instead of recomputed each refresh.

Why: the derived source joins every signal of the window with the last gate decision of its trace
(an aggregate over millions of gate rows) and with its trade; at 10 M events that is most of a
second per refresh. Here one row per (signal, trade) is kept in `_obs_tl`, and each refresh
recomputes only the traces touched since the last one: new signals, new gate decisions, new trade
events (the query layer's `_trade_events`, by seq). The last gate time per trace is kept in
`_obs_lastgate` (max over the held gate rows, merged with each batch of new ones). A touched trace's
rows are found by the hash of its trace id (an integer probe of a million rows, not a string one), and
its signal is taken from its kept rows, not looked for among the held signals. The rows an update inserted are kept
apart too (`CAME`): kept evidence ids follow them (kept_ids.py) instead of reading the minutes they changed again
(the current minute, up to a minute of signals).

The window view then gives exactly `views.DERIVED_SOURCES["trace_latency"]`: a last gate before
the window start means no gate in the window (every held gate row of that trace is older), and
signals outside the window are filtered out. Two cases it cannot decide from what it keeps — a
gate row at or after the window end, a trade opened before the window start — fall back to the
full derived SQL for that refresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import duckdb

from observability.analytics.buckets import BUCKET_US, HeldView, in_spans, minute_spans
from observability.core.io.trade_tables import CHANGES_VARIABLE, TOUCHED_EVENTS
from observability.core.io.views import TRADE_EVENT_TYPES

TRADE_EVENTS: Final = "_trade_events"
"""The query layer's table of (shadow) trade events, by seq (core/io/trade_tables.py)."""
ROWS: Final = "_obs_tl"
CAME: Final = "_obs_tl_came"
"""The rows the last update inserted (the touched traces' rows joined again, and the new signals')."""
RECENT: Final = "_obs_tl_recent"
CHANGED: Final = "_obs_tl_chg"
LAST_GATE: Final = "_obs_lastgate"
_TOUCHED: Final = "_obs_tl_touched"
_TRADE_KINDS: Final = ", ".join(f"'{t}'" for t in TRADE_EVENT_TYPES[:2])
"""The trade events a kept row reads (through `trades`): a shadow trade's events change no row of its trace, and
touching its trace for them recomputed the minutes of signals hours old."""
_OPENS_TOUCH: Final = (
    "SELECT o.trace_id FROM (SELECT trade_id FROM {events} WHERE seq > {after} AND event_type = 'trade_opened') n "
    f"JOIN {TOUCHED_EVENTS} o ON o.trade_id = n.trade_id AND o.event_type IN ({_TRADE_KINDS})"
)
"""The traces new trade opens change a kept row of: every trace their trades' events name (a close logged before its
open names the trace the trade's row takes)."""
_CLOSES_THAT_MOVE: Final = (
    "SELECT unnest(list_prepend(c.trace_id, list(o.trace_id) FILTER (WHERE o.event_type = 'trade_opened'))) "
    "FROM (SELECT seq, trade_id, trace_id FROM {events} WHERE seq > {after} AND event_type = 'trade_closed') c "
    f"LEFT JOIN (SELECT trade_id, trace_id, event_type FROM {TOUCHED_EVENTS} WHERE event_type IN ({_TRADE_KINDS})) o "
    "ON o.trade_id = c.trade_id GROUP BY c.seq, c.trace_id "
    "HAVING count(*) FILTER (WHERE o.event_type = 'trade_closed') > 1 "
    "OR bool_or(o.trace_id IS DISTINCT FROM c.trace_id) FILTER (WHERE o.event_type = 'trade_opened')"
)
"""The traces new trade closes change a kept row of, from the events of their trades the query layer's last update
read (`TOUCHED_EVENTS`): a close changes none (a kept row reads an opened trade's id, open time and fill latency)
unless its trade has another close (a second row) or an open on another trace (the row moves: both traces). Each close
of a trade open for an hour recomputed that hour-old minute of signals otherwise."""

_VALUES: Final = (
    "trace_id, mode, symbol, ts_event, last_gate_at, opened_at, entry_latency_ms,"
    " (epoch_us(last_gate_at) - epoch_us(ts_event)) / 1000.0 AS signal_to_decision_ms,"
    " (epoch_us(opened_at) - epoch_us(last_gate_at)) / 1000.0 AS decision_to_fill_ms,"
    " (epoch_us(opened_at) - epoch_us(ts_event)) / 1000.0 AS signal_to_fill_ms,"
    " trade_id IS NOT NULL AS taken"
)
"""The derived source's columns over the kept rows (`views.DERIVED_SOURCES["trace_latency"]`)."""
_JOIN: Final = (
    "SELECT s.trace_id, s.mode, s.symbol, s.ts_event, g.last_gate_at, t.trade_id, t.opened_at, t.entry_latency_ms,"
    " s._sseq, s._th FROM {signals} s LEFT JOIN {last_gate} g ON g.trace_id = s.trace_id"
    " LEFT JOIN (SELECT trace_id, trade_id, opened_at, entry_latency_ms FROM trades"
    " WHERE opened_at IS NOT NULL{only}) t ON t.trace_id = s.trace_id"
)
"""Kept rows of signals: beside the derived source's columns, the signal's seq (`_sseq`: one row per signal,
whatever its trades) and the hash of its trace id (`_th`: the rows of given traces are found by a probe of
integers, not of every trace id string)."""
_TOUCHED_LAST_GATES: Final = (
    "(SELECT s.trace_id, coalesce(h.last_gate_at, s.last_gate_at) AS last_gate_at FROM _obs_lastgate_seen s "
    "LEFT JOIN _obs_lastgate_hit h ON h.r = s.r UNION ALL "
    "SELECT trace_id, last_gate_at FROM _obs_new_gates n ANTI JOIN _obs_lastgate_hit h ON h.trace_id = n.trace_id)"
)
"""The touched traces' last gates as `LAST_GATE` holds them after an update, from its rows found before it and the
new gates (no second probe of `LAST_GATE`)."""
_ODD: Final = "(opened_at < ts_event OR last_gate_at < ts_event)"
"""A kept row whose trade or last gate came before its signal: only such a row can have a trade or last gate
before the window start while its signal is in the window (none in practice; counted, not looked for)."""


@dataclass
class _State:
    signals_gen: int
    gates_gen: int
    signals_key: int
    gates_key: int
    trades_key: int
    trades_at: tuple[int, int] | None
    """The query layer's trade tables (epoch, version) when `trades_key` was read; None without them."""


class TraceLatencyCache:
    """Maintains `_obs_tl` / `_obs_lastgate` for one DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._state: _State | None = None
        self._last_gate: object = None
        """The latest gate time of the held gate rows (the newest row never slides out first)."""
        self.exact_rows = False
        """The last `view_sql` kept the window, and each kept row in it reads as in any window (see `held`)."""
        self._generation = 0
        self._version = 0
        self._since_version = 0
        self._changed: list[int] = []
        """Minutes (of signal time) whose kept rows the last update replaced, removed or added."""
        self._came = False
        """The last update inserted rows (`CAME`): not a rebuild, not a refresh without anything new."""
        self._odd = 0
        """Kept rows that are `_ODD`."""

    def view_sql(self, signals: HeldView | None, gates: HeldView | None, since: str, until: str,
                 tables: set[str]) -> str | None:
        """SELECT giving the window's trace_latency rows, or None when only the full SQL is exact (also without the
        query layer's trade events table among `tables`, the connection's table names)."""
        if signals is None or gates is None or TRADE_EVENTS not in tables:
            self._state = None
            return None
        self._update(signals, gates)
        self.exact_rows = False
        (late_gate,) = self._one(f"SELECT CAST(? AS TIMESTAMPTZ) >= {until}", [self._last_gate])
        early_trade: object = False
        early_gate: object = False
        if self._odd:
            early_trade, early_gate = self._one(
                f"SELECT coalesce(bool_or(opened_at < {since}), false), coalesce(bool_or(last_gate_at < {since}), "
                f"false) FROM {ROWS} WHERE ts_event >= {since} AND ts_event < {until}")
        if late_gate or early_trade:
            return None
        self.exact_rows = not early_gate
        gate = f"CASE WHEN last_gate_at >= {since} THEN last_gate_at END"
        return (f"SELECT {_VALUES} FROM (SELECT * REPLACE ({gate} AS last_gate_at) FROM {ROWS}"
                f" WHERE ts_event >= {since} AND ts_event < {until})")

    def held(self, lo_us: int, hi_us: int) -> HeldView | None:
        """The kept rows as a view updated in place (buckets.py, quantiles.py), with the minutes the last
        update changed and a table of the rows in those minutes and in the window's first and last minutes.
        Only when the last `view_sql` kept the window (no
        fallback) and no row in it has a last gate before the window start: every row then reads as in
        any window holding it (that row's gate would read as NULL in this window only)."""
        if not self.exact_rows:
            return None
        first, last = lo_us // BUCKET_US, hi_us // BUCKET_US
        spans = minute_spans([*self._changed, first, last])
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {RECENT} AS SELECT {_VALUES} FROM {ROWS} "
                         f"WHERE {in_spans('ts_event', spans)}")
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {CHANGED} AS SELECT CAST(unnest(?) AS BIGINT) AS b",
                         [self._changed])
        return HeldView(f"(SELECT {_VALUES} FROM {ROWS})", "version", self._generation, self._version, CHANGED,
                        self._since_version, tuple(self._changed), RECENT,
                        came=f"(SELECT {_VALUES} FROM {CAME})" if self._came else None)

    @property
    def changed(self) -> list[int]:
        return self._changed

    def _one(self, sql: str, params: list[object] | None = None) -> tuple[object, ...]:
        row = self.con.execute(sql, params).fetchone()
        assert row is not None  # an aggregate without GROUP BY always returns one row
        return tuple(row)

    def _update(self, signals: HeldView, gates: HeldView) -> None:
        old = self._state
        # The newest trade event seq, found in the last row groups when the one seen last is still there.
        since_trades = f" WHERE seq >= {old.trades_key}" if old is not None else ""
        trades_key, tables = self._one(f"SELECT max(seq), getvariable('{CHANGES_VARIABLE}') FROM {TRADE_EVENTS}"
                                       f"{since_trades}")
        if trades_key is None:
            (trades_key,) = self._one(f"SELECT coalesce(max(seq), 0) FROM {TRADE_EVENTS}")
        at = None if not isinstance(tables, dict) else (int(tables["epoch"]), int(tables["version"]))
        top = _State(signals.generation, gates.generation, int(str(signals.max_key)), int(str(gates.max_key)),
                     int(str(trades_key)), at)
        # One update of the trade tables since the last look: its touched events tell which closes change a row.
        one_update = (old is not None and old.trades_at is not None and isinstance(tables, dict) and at is not None
                      and old.trades_at[0] == at[0] and old.trades_at[1] == int(tables["came_from"]))
        self._since_version, self._changed, self._came = self._version, [], False
        if old is None or (old.signals_gen, old.gates_gen) != (top.signals_gen, top.gates_gen):
            self._generation += 1
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {LAST_GATE} AS SELECT trace_id, max(ts_event) AS "
                             f"last_gate_at, hash(trace_id) AS _th FROM {gates.table} GROUP BY trace_id")
            signal_rows = f"(SELECT *, seq AS _sseq, hash(trace_id) AS _th FROM {signals.table})"
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {ROWS} AS "
                             + _JOIN.format(signals=signal_rows, last_gate=LAST_GATE, only=""))
            (self._last_gate,) = self._one(f"SELECT max(last_gate_at) FROM {LAST_GATE}")
            (odd,) = self._one(f"SELECT count(*) FROM {ROWS} WHERE {_ODD}")
            self._odd, self._state = int(str(odd)), top
            return
        if (top.signals_key, top.gates_key, top.trades_key) == (old.signals_key, old.gates_key, old.trades_key):
            return
        trades = f"SELECT trace_id FROM {TRADE_EVENTS} WHERE seq > {old.trades_key} AND event_type IN ({_TRADE_KINDS})"
        if one_update:
            trades = " UNION ALL ".join(sql.format(events=TRADE_EVENTS, after=old.trades_key)
                                        for sql in (_OPENS_TOUCH, _CLOSES_THAT_MOVE))
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_TOUCHED} AS SELECT trace_id, hash(trace_id) AS _th FROM (SELECT DISTINCT "
            f"trace_id FROM (SELECT trace_id FROM {signals.table} WHERE seq > {old.signals_key}"
            f" UNION ALL SELECT trace_id FROM {gates.table} WHERE seq > {old.gates_key}"
            f" UNION ALL {trades}) WHERE trace_id IS NOT NULL)")
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE _obs_new_gates AS SELECT trace_id, max(ts_event) AS "
                         f"last_gate_at, hash(trace_id) AS _th FROM {gates.table} WHERE seq > {old.gates_key} "
                         "GROUP BY trace_id")
        (newest,) = self._one("SELECT greatest(max(last_gate_at), ?) FROM _obs_new_gates", [self._last_gate])
        self._last_gate = newest
        # The kept last gates of the touched traces found once, by the hash of the id first (an integer probe of every
        # kept trace, not a string join: ~45 -> ~10 ms at 10 M events); those with new gates are updated by rowid,
        # traces not kept yet are added.
        touched = f"_th IN (SELECT _th FROM {_TOUCHED}) AND trace_id IN (SELECT trace_id FROM {_TOUCHED})"
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE _obs_lastgate_seen AS SELECT rowid AS r, trace_id, "
                         f"last_gate_at FROM {LAST_GATE} WHERE {touched}")
        self.con.execute("CREATE OR REPLACE TEMP TABLE _obs_lastgate_hit AS SELECT g.r, g.trace_id, "
                         "greatest(g.last_gate_at, n.last_gate_at) AS last_gate_at FROM _obs_lastgate_seen g "
                         "JOIN _obs_new_gates n ON g.trace_id = n.trace_id")
        self.con.execute(f"UPDATE {LAST_GATE} SET last_gate_at = h.last_gate_at FROM _obs_lastgate_hit h "
                         f"WHERE {LAST_GATE}.rowid = h.r")
        self.con.execute(f"INSERT INTO {LAST_GATE} SELECT * FROM _obs_new_gates n "
                         "ANTI JOIN _obs_lastgate_hit h ON h.trace_id = n.trace_id")
        # Rows that slid out (signals before the held ones) go; then the touched traces' rows, whose signals are
        # joined again: those kept rows' signals (every held signal up to the last seq seen has its rows), and
        # the new signals. A touched trace's rows come back with their signal's time: the minutes of the rows
        # added are all that changed in the window (the rows deleted for sliding out lie before it).
        slid = self.con.execute(f"DELETE FROM {ROWS} WHERE ts_event < (SELECT min(ts_event) FROM {signals.table}) "
                                f"RETURNING {_ODD}").fetchall()
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE _obs_tl_gone AS SELECT rowid AS r, _sseq, trace_id, mode, "
                         f"symbol, ts_event, _th, {_ODD} AS odd FROM {ROWS} WHERE {touched}")
        (gone_odd,) = self._one("SELECT count(*) FILTER (WHERE odd) FROM _obs_tl_gone")
        self.con.execute(f"DELETE FROM {ROWS} WHERE rowid IN (SELECT r FROM _obs_tl_gone)")
        signal_rows = (
            "(SELECT DISTINCT _sseq, trace_id, mode, symbol, ts_event, _th FROM _obs_tl_gone UNION ALL "
            f"SELECT seq, trace_id, mode, symbol, ts_event, hash(trace_id) FROM {signals.table} "
            f"WHERE seq > {old.signals_key} AND (trace_id IS NULL OR trace_id IN (SELECT trace_id FROM {_TOUCHED})))")
        only = f" AND trace_id IN (SELECT trace_id FROM {_TOUCHED})"
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {CAME} AS "  # scratch tables: replaced next time
                         + _JOIN.format(signals=signal_rows, last_gate=_TOUCHED_LAST_GATES, only=only))
        self.con.execute(f"INSERT INTO {ROWS} SELECT * FROM {CAME}")
        minutes, came_odd = self._one(f"SELECT coalesce(list(DISTINCT epoch_us(ts_event) // {BUCKET_US}), []), "
                                      f"count(*) FILTER (WHERE {_ODD}) FROM {CAME}")
        self._odd += int(str(came_odd)) - sum(1 for (odd,) in slid if odd) - int(str(gone_odd))
        assert isinstance(minutes, list)  # a LIST aggregate
        self._changed, self._came = sorted(int(b) for b in minutes), True
        self._version += 1
        self._state = top
