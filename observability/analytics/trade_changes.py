"""Which minute buckets of `trades` / `shadow_trades` changed since the last refresh.

Why: those tables are updated in place by the query layer (a close replaces an open trade's row),
so minute partials over them cannot just be appended to. The query layer logs, at each update, the
minutes of the closed rows it deleted and inserted (core/io/trade_tables.py, `CHANGES`); the tracker
reads the minutes logged since the version it saw last, so the partials of exactly those minutes are
recomputed (its minutes are the buckets: `BUCKET_US` is its `MINUTE_US`, and the views' window time is its
`ROW_TIME`). A reader one update behind recomputes only the minutes that lost a closed row (a trade closed
twice: rare) and adds the closed rows that update inserted. Open rows are never kept: they are read whole, from
the query layer's table of them. When the tables were rebuilt, or the log no longer reaches back to that
version, the generation moves on and every partial over the view is rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import duckdb

from observability.analytics.buckets import HeldView
from observability.core.io.trade_tables import CHANGES, CHANGES_VARIABLE, CLOSED, SPECS, came_table, open_table

TABLES: Final = {spec.table.removeprefix("_"): spec.table for spec in SPECS}
"""The query layer's table of each view updated in place (`trades` is `SELECT * FROM _trades`)."""
KEYS: Final = {spec.table.removeprefix("_"): spec.key for spec in SPECS}


@dataclass
class _Seen:
    generation: int
    epoch: int
    version: int
    latest_us: int
    """No closed row of the table has a close time after this (µs)."""


class TradeChanges:
    """Per in-place view: the buckets changed by the last update (`_obs_chg_<view>`)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._seen: dict[str, _Seen] = {}
        self._generation = 0

    def update(self, view: str, tables: set[str]) -> HeldView | None:
        """The changes since the last call; None when the query layer keeps no trade tables (`CHANGES` not among
        `tables`, the connection's table names)."""
        if CHANGES not in tables:
            self._seen.pop(view, None)
            return None
        state = self.con.execute(f"SELECT getvariable('{CHANGES_VARIABLE}')").fetchall()[0][0]
        epoch, version, log_from = int(state["epoch"]), int(state["version"]), int(state["log_from"])
        changed, table = f"_obs_chg_{view}", TABLES[view]
        seen = self._seen.get(view)
        if seen is None or seen.epoch != epoch or seen.version < log_from:
            self._generation += 1
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {changed} (b BIGINT)")
            seen = self._seen[view] = _Seen(self._generation, epoch, version, self._latest(table))
            return HeldView(view, KEYS[view], self._generation, version, changed, None, latest_us=seen.latest_us,
                            kept=CLOSED, open=open_table(table))
        before = seen.version
        came = came_table(table) if int(state["came_from"]) == before and version > before else None
        gone = " AND gone" if came is not None else ""
        minutes = tuple(int(b) for (b,) in self.con.execute(
            f"SELECT DISTINCT b FROM {CHANGES} WHERE tbl = '{table}' AND version > {before}{gone}").fetchall())
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {changed} AS SELECT CAST(unnest(?) AS BIGINT) AS b",
                         [list(minutes)])
        if version > before:
            seen.latest_us = max(seen.latest_us, self._latest(came)) if came is not None else self._latest(table)
        seen.version = version
        return HeldView(view, KEYS[view], seen.generation, version, changed, before, minutes, came=came,
                        latest_us=seen.latest_us, kept=CLOSED, open=open_table(table))

    def _latest(self, rows: str) -> int:
        ((latest,),) = self.con.execute(f"SELECT coalesce(epoch_us(max(closed_at)), 0) FROM {rows}").fetchall()
        return int(latest)
