"""Which minute buckets of `trades` / `shadow_trades` changed since the last refresh.

Why: those tables are updated in place by the query layer (a close replaces an open trade's row),
so minute partials over them cannot just be appended to. Their rows depend only on the trade
events with their id (core/io/trade_tables.py), and those events sit in the query layer's
`_trade_events` by seq. The tracker keeps each row's bucket (by the view's time column); after new
trade events it names the buckets touched — the old and the new bucket of every trade with a new
event — so the partials of exactly those minutes are recomputed. When `_trade_events` changed
other than by new rows on top (the query layer rebuilt it from other files), or a new event has
no id, the generation moves on and every partial over the view is rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import duckdb

from observability.analytics.buckets import BUCKET_US, HeldView
from observability.analytics.trace_latency import TRADE_EVENTS
from observability.analytics.views import BASE_SOURCES

KEYS: Final = {"trades": "trade_id", "shadow_trades": "shadow_id"}


@dataclass
class _Seen:
    generation: int
    covered: int
    events: int


class TradeChanges:
    """Per in-place view: bucket of each row (`_obs_map_<view>`) and the buckets changed by the last
    update (`_obs_chg_<view>`)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._seen: dict[str, _Seen] = {}
        self._generation = 0

    def update(self, view: str, tables: set[str]) -> HeldView | None:
        """Bring the view's bucket map up to date; None when the query layer keeps no trade events table (not
        among `tables`, the connection's table names)."""
        if TRADE_EVENTS not in tables:
            self._seen.pop(view, None)
            return None
        key, ts = KEYS[view], BASE_SOURCES[view].ts
        bucket = f"epoch_us({ts}) // {BUCKET_US}"
        mapping, changed = f"_obs_map_{view}", f"_obs_chg_{view}"
        seen = self._seen.get(view)
        # The newest seq is found in the last row groups while the one seen last is still there.
        newer = f" WHERE seq >= {seen.covered}" if seen is not None else ""
        row = self.con.execute(f"SELECT (SELECT max(seq) FROM {TRADE_EVENTS}{newer}), "
                               f"(SELECT count(*) FROM {TRADE_EVENTS})").fetchone()
        if row is not None and row[0] is None:
            row = self.con.execute(f"SELECT coalesce(max(seq), 0), count(*) FROM {TRADE_EVENTS}").fetchone()
        top, events = (int(row[0]), int(row[1])) if row is not None else (0, 0)
        before = seen.covered if seen is not None else 0
        if seen is not None and top > seen.covered:
            (fresh, no_id) = self._one(f"SELECT count(*), count(*) FILTER (WHERE {key} IS NULL AND event_type IN "
                                       f"({self._types(view)})) FROM {TRADE_EVENTS} WHERE seq > {seen.covered}")
            if events - seen.events != fresh or no_id:
                seen = None
        elif seen is not None and (top, events) != (seen.covered, seen.events):
            seen = None
        if seen is None:
            self._generation += 1
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {mapping} AS SELECT {key} AS id, {bucket} AS b, "
                             f"hash({key}) AS h FROM {view}")
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {changed} (b BIGINT)")
            self._seen[view] = _Seen(self._generation, top, events)
            return HeldView(view, key, self._generation, top, changed, None)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {changed} (b BIGINT)")
        if top > seen.covered:
            # The touched ids and their rows' new buckets once, each big table probed once for them; the bucket
            # map by the hash of the id (an integer probe, not a string one), its old rows then gone by rowid.
            touched, rows, old = f"_obs_touched_{view}", f"_obs_fresh_{view}", f"_obs_old_{view}"
            new_ids = (f"SELECT DISTINCT {key} AS id FROM {TRADE_EVENTS} WHERE seq > {seen.covered} "
                       f"AND {key} IS NOT NULL")
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {touched} AS SELECT id, hash(id) AS h FROM ({new_ids})")
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {rows} AS SELECT {key} AS id, {bucket} AS b, hash({key}) "
                             f"AS h FROM {view} WHERE {key} IN (SELECT id FROM {touched})")
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {old} AS SELECT rowid AS r, b FROM {mapping} "
                             f"WHERE h IN (SELECT h FROM {touched}) AND id IN (SELECT id FROM {touched})")
            self.con.execute(f"INSERT INTO {changed} SELECT DISTINCT b FROM (SELECT b FROM {old} "
                             f"UNION ALL SELECT b FROM {rows}) WHERE b IS NOT NULL")
            self.con.execute(f"DELETE FROM {mapping} WHERE rowid IN (SELECT r FROM {old})")
            self.con.execute(f"INSERT INTO {mapping} SELECT id, b, h FROM {rows}")  # scratch tables replaced next time
            seen.covered, seen.events = top, events
        return HeldView(view, key, seen.generation, top, changed, before)

    def _one(self, sql: str) -> tuple[int, int]:
        row = self.con.execute(sql).fetchone()
        return (int(row[0]), int(row[1])) if row is not None else (0, 0)

    @staticmethod
    def _types(view: str) -> str:
        kinds = ("trade_opened", "trade_closed") if view == "trades" else ("shadow_trade_opened", "shadow_trade_closed")
        return ", ".join(f"'{k}'" for k in kinds)
