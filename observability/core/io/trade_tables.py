"""`trades` and `shadow_trades` as DuckDB tables, maintained incrementally at each `refresh()`.

Why tables, not views: as views every query re-joined every trade open with every close of the
whole dataset (486 ms p50 for one day's P&L by symbol over 10 M events), and analytics evaluates
them many times per refresh. Here the trade events are kept in a small table (a few % of all
events), and the joined table is updated only for the trade ids that got new events. A trade's
row depends only on the events with its id (views.trades_sql), so delete-and-reinsert of those ids
gives exactly what the view would.

Each incremental update also logs, in `CHANGES`, the minutes (of a row's `ROW_TIME`) whose closed rows it
deleted or inserted, so that readers keeping per-minute aggregates of the tables (analytics) recompute
those minutes without looking for the changed rows themselves; `CHANGES_VARIABLE` says which updates
the log still holds. Open rows are not logged: they are few (trades open now), kept in a table of their own
(`open_table`), and a reader aggregates them whole at each refresh. Why: a close moves a row from its open's
minute to its close's; logged, that old minute (every trade closed in it since) was recomputed, a cost growing
with the trade rate times the hold.

Incremental by seq over this box's rows (`_own`): its events with seq <= `covered` are in the
tables. That holds while its part of the union only grows above it: a new export file holds rows
above the previous watermark (seen before as live rows, with the same seq). Anything else — a file
gone, a new file starting at or below that bound (compaction merged files), or any change in the
files of other boxes (whose seq says nothing here) — rebuilds: `EVENTS` from the events up to that
bound first; when they are the events the tables were built from (merged files hold the same rows),
the tables and the log stand and only the newer events are applied; otherwise the tables are rebuilt
and the log starts again (a new epoch).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Final

import duckdb

from observability.core.io.dataset import DataFile
from observability.core.io.duck_threads import one_thread
from observability.core.io.views import TRADE_EVENT_COLUMNS, TRADE_EVENT_TYPES, shadow_trades_sql, trades_sql

EVENTS: Final = "_trade_events"
"""The (shadow) trade open/close events: a few % of all rows, read from Parquet in one scan."""
TOUCHED_EVENTS: Final = "_touched_trade_events"
"""Every event of the ids the last update's new events carry (replaced only by an update that had new events)."""
_SHADOW_TYPES: Final = "'shadow_trade_opened', 'shadow_trade_closed'"
KEYED_COLUMNS: Final = (f"{TRADE_EVENT_COLUMNS}, hash(CASE WHEN event_type IN ({_SHADOW_TYPES}) THEN shadow_id "
                        "ELSE trade_id END) AS _kh")
"""What `EVENTS` keeps: beside the columns the joins read, the hash of the key its table joins the event on, so
that the events of the trades new events touch are found by one probe of integers (a string probe of two key
columns over ~2 M events cost ~30 ms per live refresh at 10 M events; a probe of each key's hash, ~20 ms)."""
ROW_TIME: Final = "coalesce(closed_at, opened_at)"
"""The time of a row of either table: its close, or its open while it is open (analytics' window time)."""
MINUTE_US: Final = 60_000_000
OPEN: Final = "closed_at IS NULL"
"""A row of either table that is still open: in `open_table` too, never in the log."""
CLOSED: Final = f"NOT ({OPEN})"
"""A closed row: the log holds their minutes; readers keep their aggregates per minute."""
CHANGES: Final = "_trade_changes"
"""(version, tbl, b, gone): the minutes b (`epoch_us(ROW_TIME) // MINUTE_US`) of the closed rows the update that took
the tables to this box's seq `version` deleted (gone) or inserted (not gone) in table `tbl`."""
CHANGES_VARIABLE: Final = "huracan_trade_changes"
"""DuckDB variable {'epoch', 'version', 'log_from', 'came_from'}: moves on when a rebuild changed the tables; the seq
the last update that changed them took them to (its new events in `EVENTS` have seqs above the one before); the log
holds every change of the versions above `log_from` since that rebuild; the version before the last update, whose
rows that update inserted are in the `came_table`s (-2: none since that rebuild)."""
_FINGERPRINT: Final = "SELECT count(*), coalesce(bit_xor(hash(seq, event_type, _kh, ts_event)), 0) FROM {}"
"""Which events a table holds: a rebuild that finds the same (compaction merged files) changes no row, so readers
keep what they computed from the tables."""
CHANGES_KEPT: Final = 256
"""Updates the log keeps: a reader further behind than that recomputes everything."""


@dataclass(frozen=True)
class _Spec:
    table: str
    key: str
    sql: Callable[[str, str | None], str]


SPECS: Final = (_Spec("_trades", "trade_id", trades_sql), _Spec("_shadow_trades", "shadow_id", shadow_trades_sql))


def came_table(table: str) -> str:
    """The rows the last update inserted into `table` (the new versions of every row it replaced, and new ones): a
    reader that saw the version before it follows the update from them, not from the minutes it changed."""
    return f"_came{table}"


def open_table(table: str) -> str:
    """The open rows of `table` (`OPEN`), kept beside it: readers aggregate them whole at each refresh."""
    return f"_open{table}"


class TradeTables:
    """Keeps `_trades` / `_shadow_trades` equal to the contract's joins over `_events_wide`."""

    def __init__(self) -> None:
        self.covered = -1
        """This box's events with seq <= covered are in the tables (-1: none of its events yet)."""
        self._built = False
        self.rebuilds = 0
        """How many times the tables were built from scratch (tests and benchmarks watch it)."""
        self._files: dict[str, int] = {}
        self._foreign: frozenset[str] = frozenset()
        self._watermark: int | None = None
        self._versions: list[int] = [-1]
        """The versions of the updates the log holds, last the current one (the seq of the last build, or -1)."""
        self._log_from = -1
        self._came_from = -2
        self._epoch = 0
        self._fingerprint: tuple[int, int] | None = None

    def update(
        self, con: duckdb.DuckDBPyConnection, files: list[DataFile], foreign: list[str], watermark: int | None,
        top: int, live: list[tuple[str, int]] | None = None,
    ) -> None:
        """Bring the tables up to date with `_events_wide`, just redefined over the files and live rows.

        `files`: this box's files; `foreign`: paths of other boxes' files; `top`: the highest seq of
        this box's rows in `_events_wide` (-1 when none), known from file names and live rows;
        `live`: (relation, seq) pairs, smallest first, each holding every row of this box above that seq.
        New events are read from the first that holds them all: the union's Parquet side costs a
        footer check per file, and a scan of every live row costs more than one of the newest.
        """
        paths = {f.path: f.first_seq for f in files}
        bound = self._watermark if self._watermark is not None else self.covered
        rebuild = (
            not self._built
            or (watermark or 0) < (self._watermark or 0)
            or frozenset(foreign) != self._foreign
            or any(p not in paths for p in self._files)
            or any(first <= bound for p, first in paths.items() if p not in self._files)
        )
        types = ", ".join(f"'{t}'" for t in TRADE_EVENT_TYPES)
        covered = self.covered
        if rebuild:
            # Up to the old bound first: when those events are the ones the tables were built from (the files were
            # merged, not changed), the tables stand and only the newer events are applied, as at any refresh.
            self.rebuilds += 1
            covered = min(top, covered) if self._built else top
            con.execute(f"CREATE OR REPLACE TABLE {EVENTS} AS SELECT {KEYED_COLUMNS} FROM _events_wide "
                        f"WHERE event_type IN ({types}) AND (NOT _own OR seq <= {covered})")
            fingerprint = self._events_in(con, EVENTS)
            if fingerprint != self._fingerprint:
                self._fingerprint, self._epoch = fingerprint, self._epoch + 1
                for spec in SPECS:
                    # In time order: a look for the rows of given minutes skips row groups by their time stats.
                    con.execute(f"CREATE OR REPLACE TABLE {spec.table} AS SELECT * FROM ({spec.sql(EVENTS, None)}) "
                                f"ORDER BY {ROW_TIME}")
                    con.execute(f"CREATE OR REPLACE TABLE {open_table(spec.table)} AS SELECT * FROM {spec.table} "
                                f"WHERE {OPEN}")
                con.execute(f"CREATE OR REPLACE TABLE {CHANGES} (version BIGINT, tbl VARCHAR, b BIGINT, gone BOOLEAN)")
                self._log_from = covered  # the tables hold this box's events up to it: readers start from there
                self._versions, self._came_from = [covered], -2
                self._publish(con)
        if top > covered:
            src = next((f"{name} WHERE" for name, above in live or [] if above <= covered and not rebuild),
                       "_events_wide WHERE _own AND")
            with one_thread(con) if not rebuild else nullcontext():  # a few thousand new events: small statements
                self._apply(con, f"SELECT {KEYED_COLUMNS} FROM {src} seq > {covered} "
                                 f"AND seq <= {top} AND event_type IN ({types})", top)
        self.covered, self._files, self._foreign, self._watermark = top, paths, frozenset(foreign), watermark
        self._built = True

    @staticmethod
    def define_views(con: duckdb.DuckDBPyConnection) -> None:
        """The same names as plain views over `_events_wide` (no tables, nothing kept between queries)."""
        types = ", ".join(f"'{t}'" for t in TRADE_EVENT_TYPES)
        con.execute(f"CREATE OR REPLACE VIEW {EVENTS} AS SELECT {KEYED_COLUMNS} FROM _events_wide "
                    f"WHERE event_type IN ({types})")
        for spec in SPECS:
            con.execute(f"CREATE OR REPLACE VIEW {spec.table} AS {spec.sql(EVENTS, None)}")

    @staticmethod
    def _events_in(con: duckdb.DuckDBPyConnection, table: str) -> tuple[int, int]:
        (n, mix), = con.execute(_FINGERPRINT.format(table)).fetchall()
        return int(n), int(mix)

    def _publish(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"SET VARIABLE {CHANGES_VARIABLE} = {{'epoch': {self._epoch}, 'version': {self._versions[-1]}, "
                    f"'log_from': {self._log_from}, 'came_from': {self._came_from}}}")

    def _apply(self, con: duckdb.DuckDBPyConnection, new: str, top: int) -> None:
        """Add the new events, rebuild the rows of the ids they carry and log the minutes of the closed rows replaced.
        Its scratch tables are replaced at the next call, not dropped (a statement each)."""
        con.execute(f"CREATE OR REPLACE TEMP TABLE _new_trade_events AS {new}")
        n, mix = self._events_in(con, "_new_trade_events")
        if n == 0:
            return
        if self._fingerprint is not None:  # the events now held: XOR adds one row's hash
            self._fingerprint = (self._fingerprint[0] + n, self._fingerprint[1] ^ mix)
        con.execute(f"INSERT INTO {EVENTS} SELECT * FROM _new_trade_events")
        # Every event of the touched ids of both specs: found by one scan of the key hash column (a superset on a
        # collision: the joins below keep only the touched ids), then fetched by rowid once (a semi-join reading
        # every column of every event cost 4x more). The fetch by rowid is fast from a table of rowids. Both keys
        # of each new event are probed: the other spec's events may carry one of a spec's keys too.
        con.execute(f"CREATE OR REPLACE TEMP TABLE _touched_rows AS SELECT rowid AS r FROM {EVENTS} WHERE _kh IN "
                    "(SELECT hash(trade_id) FROM _new_trade_events WHERE trade_id IS NOT NULL UNION ALL "
                    "SELECT hash(shadow_id) FROM _new_trade_events WHERE shadow_id IS NOT NULL)")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {TOUCHED_EVENTS} AS SELECT * FROM {EVENTS} "
                    "WHERE rowid IN (SELECT r FROM _touched_rows)")
        minute = f"epoch_us({ROW_TIME}) // {MINUTE_US}"
        changed: list[tuple[str, int, bool]] = []
        for spec in SPECS:
            # The rows replaced, found once and deleted by rowid (a DELETE ... RETURNING read every column of every
            # row: ~10x the time).
            con.execute(f"CREATE OR REPLACE TEMP TABLE _gone_trade_rows AS SELECT rowid AS r, {minute} AS b, "
                        f"{OPEN} AS o FROM {spec.table} WHERE {spec.key} IN (SELECT {spec.key} FROM _new_trade_events)")
            con.execute(f"DELETE FROM {spec.table} WHERE rowid IN (SELECT r FROM _gone_trade_rows)")
            # Only this spec's touched ids: the other spec's events may carry one of its keys too.
            came, opened = came_table(spec.table), open_table(spec.table)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {came} AS "
                        f"{spec.sql(TOUCHED_EVENTS, '_new_trade_events')}")
            con.execute(f"INSERT INTO {spec.table} SELECT * FROM {came}")
            con.execute(f"DELETE FROM {opened} WHERE {spec.key} IN (SELECT {spec.key} FROM _new_trade_events)")
            con.execute(f"INSERT INTO {opened} SELECT * FROM {came} WHERE {OPEN}")
            minutes = con.execute(f"SELECT b, true FROM _gone_trade_rows WHERE NOT o UNION "
                                  f"SELECT {minute}, false FROM {came} WHERE {CLOSED}").fetchall()
            changed += [(spec.table, b, gone) for b, gone in sorted(minutes)]
        self._came_from = self._versions[-1]
        self._versions.append(top)
        if changed:
            con.execute(f"INSERT INTO {CHANGES} SELECT {top}, unnest($t), unnest($b), unnest($g)",
                        {"t": [t for t, _, _ in changed], "b": [b for _, b, _ in changed],
                         "g": [g for _, _, g in changed]})
        if len(self._versions) > 2 * CHANGES_KEPT:  # trimmed now and then, not at each update
            self._versions = self._versions[-CHANGES_KEPT:]
            self._log_from = self._versions[0]
            con.execute(f"DELETE FROM {CHANGES} WHERE version <= {self._log_from}")
        self._publish(con)
