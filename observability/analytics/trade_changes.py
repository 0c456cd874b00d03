"""Which minute buckets of `trades` / `shadow_trades` changed since the last refresh.

Why: those tables are updated in place by the query layer (a close replaces an open trade's row),
so minute partials over them cannot just be appended to. The query layer logs, at each update, the
minutes of the rows it deleted and inserted (core/io/trade_tables.py, `CHANGES`); the tracker reads
the minutes logged since the version it saw last, so the partials of exactly those minutes are
recomputed (its minutes are the buckets: `BUCKET_US` is its `MINUTE_US`, and the views' window time is its
`ROW_TIME`). When the tables were rebuilt, or the log no longer reaches back to that version, the
generation moves on and every partial over the view is rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import duckdb

from observability.analytics.buckets import HeldView
from observability.core.io.trade_tables import CHANGES, CHANGES_VARIABLE, SPECS, came_table

TABLES: Final = {spec.table.removeprefix("_"): spec.table for spec in SPECS}
"""The query layer's table of each view updated in place (`trades` is `SELECT * FROM _trades`)."""
KEYS: Final = {spec.table.removeprefix("_"): spec.key for spec in SPECS}


@dataclass
class _Seen:
    generation: int
    epoch: int
    version: int


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
        changed = f"_obs_chg_{view}"
        seen = self._seen.get(view)
        if seen is None or seen.epoch != epoch or seen.version < log_from:
            self._generation += 1
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {changed} (b BIGINT)")
            self._seen[view] = _Seen(self._generation, epoch, version)
            return HeldView(view, KEYS[view], self._generation, version, changed, None)
        before = seen.version
        came = came_table(TABLES[view]) if int(state["came_from"]) == before else None
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {changed} AS SELECT DISTINCT b FROM {CHANGES} "
                         f"WHERE tbl = '{TABLES[view]}' AND version > {before}")
        seen.version = version
        return HeldView(view, KEYS[view], seen.generation, version, changed, before, came=came)
