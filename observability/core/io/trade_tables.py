"""`trades` and `shadow_trades` as DuckDB tables, maintained incrementally at each `refresh()`.

Why tables, not views: as views every query re-joined every trade open with every close of the
whole dataset (486 ms p50 for one day's P&L by symbol over 10 M events), and analytics evaluates
them many times per refresh. Here the trade events are kept in a small table (a few % of all
events), and the joined table is updated only for the trade ids that got new events. A trade's
row depends only on the events with its id (views.trades_sql), so delete-and-reinsert of those ids
gives exactly what the view would.

Incremental by seq over this box's rows (`_own`): its events with seq <= `covered` are in the
tables. That holds while its part of the union only grows above it: a new export file holds rows
above the previous watermark (seen before as live rows, with the same seq). Anything else — a file
gone, a new file starting at or below that bound (compaction merged files), or any change in the
files of other boxes (whose seq says nothing here) — rebuilds from scratch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import duckdb

from observability.core.io.dataset import DataFile
from observability.core.io.views import TRADE_EVENT_COLUMNS, TRADE_EVENT_TYPES, shadow_trades_sql, trades_sql

EVENTS: Final = "_trade_events"
"""The (shadow) trade open/close events: a few % of all rows, read from Parquet in one scan."""
KEYED_COLUMNS: Final = f"{TRADE_EVENT_COLUMNS}, hash(trade_id) AS _th, hash(shadow_id) AS _sh"
"""What `EVENTS` keeps: beside the columns the joins read, the hashes of both keys, so that the events of the
trades new events touch are found by a probe of integers (a string probe of two key columns over ~2 M events
cost ~30 ms per live refresh at 10 M events; the hashes, a third of that)."""


@dataclass(frozen=True)
class _Spec:
    table: str
    key: str
    sql: Callable[[str, str | None], str]


SPECS: Final = (_Spec("_trades", "trade_id", trades_sql), _Spec("_shadow_trades", "shadow_id", shadow_trades_sql))


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
        if rebuild:
            self.rebuilds += 1
            con.execute(f"CREATE OR REPLACE TABLE {EVENTS} AS SELECT {KEYED_COLUMNS} FROM _events_wide "
                        f"WHERE event_type IN ({types}) AND (NOT _own OR seq <= {top})")
            for spec in SPECS:
                con.execute(f"CREATE OR REPLACE TABLE {spec.table} AS {spec.sql(EVENTS, None)}")
        elif top > self.covered:
            src = next((f"{name} WHERE" for name, above in live or [] if above <= self.covered),
                       "_events_wide WHERE _own AND")
            self._apply(con, f"SELECT {KEYED_COLUMNS} FROM {src} seq > {self.covered} "
                             f"AND seq <= {top} AND event_type IN ({types})")
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
    def _apply(con: duckdb.DuckDBPyConnection, new: str) -> None:
        """Add the new events and rebuild the rows of the ids they carry. Its scratch tables are replaced at the
        next call, not dropped (a statement each)."""
        con.execute(f"CREATE OR REPLACE TEMP TABLE _new_trade_events AS {new}")
        (n,), = con.execute("SELECT count(*) FROM _new_trade_events").fetchall()
        if n == 0:
            return
        con.execute(f"INSERT INTO {EVENTS} SELECT * FROM _new_trade_events")
        # Every event of the touched ids of both specs: found by a scan of each key's hash column alone (a superset
        # on a collision: the joins below keep only the touched ids), then fetched by rowid once (a semi-join
        # reading every column of every event cost 4x more). The fetch by rowid is fast from a table of rowids.
        touched = " UNION ALL ".join(f"SELECT rowid AS r FROM {EVENTS} WHERE {h} IN (SELECT {h} FROM "
                                     f"_new_trade_events WHERE {spec.key} IS NOT NULL)"
                                     for spec, h in zip(SPECS, ("_th", "_sh"), strict=True))
        con.execute(f"CREATE OR REPLACE TEMP TABLE _touched_rows AS {touched}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _touched_trade_events AS SELECT * FROM {EVENTS} "
                    "WHERE rowid IN (SELECT r FROM _touched_rows)")
        for spec in SPECS:
            con.execute(f"DELETE FROM {spec.table} WHERE {spec.key} IN (SELECT {spec.key} FROM _new_trade_events)")
            # Only this spec's touched ids: the other spec's events may carry one of its keys too.
            con.execute(f"INSERT INTO {spec.table} {spec.sql('_touched_trade_events', '_new_trade_events')}")
