"""The query layer logs which minutes of `trades`/`shadow_trades` each update changed (their closed rows; open rows
are kept in a table of their own); analytics reads that log."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from observability.analytics.buckets import HeldView
from observability.analytics.trade_changes import TradeChanges
from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.io import trade_tables
from observability.core.io.compaction import compact
from observability.core.io.dataset import list_files, open_target
from observability.core.io.exporter import export_once
from observability.core.io.query import QueryLayer
from observability.core.io.trade_tables import CHANGES, CHANGES_VARIABLE, MINUTE_US, open_table
from observability.core.live_store import exported_seq, open_live_db, prune_live_feed
from observability.paths import DataLayout

T0 = (time.time() // 3600 - 2) * 3600.0
"""A whole hour two hours ago: the minutes below are exact."""


def minute(ts: float) -> int:
    return int(ts * 1e6) // MINUTE_US


def opened(i: int, ts: float) -> dict[str, Any]:
    exe = builders.execution(order_id=f"o-{i}", side="buy", price_requested=100.0, price_filled=100.0,
                             size_requested=1.0, size_filled=1.0, fees=0.1)
    return builders.trade_opened(trade_id=f"t-{i}", side="long", execution=exe, model_id="m", symbol="X",
                                 trace_id=f"tr-{i}", mode="scalp", ts_event=ts)


def closed(i: int, ts: float) -> dict[str, Any]:
    return builders.trade_closed(trade_id=f"t-{i}", side="long", entry_price=100.0, exit_price=101.0, size=1.0,
                                 fees=0.2, hold_seconds=60.0, exit_reason="take_profit", symbol="X",
                                 trace_id=f"tr-{i}", mode="scalp", ts_event=ts)


def shadow(i: int, ts: float, *, close: bool) -> dict[str, Any]:
    if not close:
        return builders.shadow_trade_opened(shadow_id=f"s-{i}", side="long", entry_price=100.0, size=1.0,
                                            blocked_by=["spread"], symbol="X", trace_id=f"tr-s{i}", mode="scalp",
                                            ts_event=ts)
    return builders.shadow_trade_closed(shadow_id=f"s-{i}", side="long", entry_price=100.0, exit_price=99.0,
                                        size=1.0, hold_seconds=60.0, exit_reason="stop_loss", blocked_by=["spread"],
                                        symbol="X", trace_id=f"tr-s{i}", mode="scalp", ts_event=ts)


def state(q: QueryLayer) -> dict[str, int]:
    return dict(q.connect().execute(f"SELECT getvariable('{CHANGES_VARIABLE}')").fetchall()[0][0])


def logged(q: QueryLayer, after: int) -> set[tuple[str, int, bool]]:
    """(table, minute, whether a closed row went) of every change logged after version `after`."""
    return {(t, int(b), bool(g)) for t, b, g in q.connect().execute(
        f"SELECT tbl, b, gone FROM {CHANGES} WHERE version > ?", [after]).fetchall()}


def open_ids(q: QueryLayer, table: str, key: str) -> set[str]:
    return {str(i) for (i,) in q.connect().execute(f"SELECT {key} FROM {open_table(table)}").fetchall()}


def changed_minutes(q: QueryLayer, held: HeldView) -> set[int]:
    """The buckets of the view's changed table, which its `minutes` give too."""
    assert held.changed is not None
    minutes = {int(b) for (b,) in q.connect().execute(f"SELECT b FROM {held.changed}").fetchall()}
    assert minutes == set(held.minutes)
    return minutes


def arrive(conn: sqlite3.Connection, q: QueryLayer, events: list[dict[str, Any]]) -> None:
    ingest_events(conn, events)
    q.refresh()


def test_an_update_logs_the_minutes_of_the_closed_rows_it_replaced_and_added(layout: DataLayout) -> None:
    conn = open_live_db(layout.live_db)
    ingest_events(conn, [opened(1, T0 + 10), shadow(1, T0 + 20, close=False), opened(2, T0 + 30)])
    q = QueryLayer(layout)
    try:
        before = state(q)
        assert before["version"] == 3  # built from seqs 1-3: a reader's first update reads only newer trade events
        assert open_ids(q, "_trades", "trade_id") == {"t-1", "t-2"}
        assert open_ids(q, "_shadow_trades", "shadow_id") == {"s-1"}
        arrive(conn, q, [closed(1, T0 + 600), shadow(1, T0 + 1200, close=True), opened(3, T0 + 1800)])
        after = state(q)
        assert after["epoch"] == before["epoch"] and after["version"] > before["version"]
        # t-1's and s-1's closed rows came (their closes' minutes); the open rows they replaced, and t-3's, are not
        # logged: they are in the tables of open rows.
        assert logged(q, before["version"]) == {("_trades", minute(T0 + 600), False),
                                                ("_shadow_trades", minute(T0 + 1200), False)}
        assert open_ids(q, "_trades", "trade_id") == {"t-2", "t-3"}
        assert open_ids(q, "_shadow_trades", "shadow_id") == set()
        reader = TradeChanges(q.connect())
        tables = {"_trade_changes"}
        first = reader.update("trades", tables)
        assert first is not None and first.since_key is None  # a new reader starts from the tables
        assert first.latest_us == int((T0 + 600) * 1e6)
        arrive(conn, q, [closed(2, T0 + 2400)])
        held = reader.update("trades", tables)
        assert held is not None and held.generation == first.generation and held.since_key == first.max_key
        # One update since the reader's version: no closed row went, so no minute is recomputed; the rows it
        # inserted come (the new version of t-2's row), and the latest close moves on.
        assert changed_minutes(q, held) == set()
        assert held.came is not None and held.latest_us == int((T0 + 2400) * 1e6)
        assert q.connect().execute(f"SELECT trade_id, status FROM {held.came}").fetchall() == [("t-2", "closed")]
        arrive(conn, q, [closed(2, T0 + 3000)])  # closed again: its closed row goes from its minute
        again = reader.update("trades", tables)
        assert again is not None and again.came is not None
        assert changed_minutes(q, again) == {minute(T0 + 2400)}
        arrive(conn, q, [opened(4, T0 + 2500)])
        arrive(conn, q, [closed(3, T0 + 2600)])
        behind = reader.update("trades", tables)  # two updates since: only their minutes tell, closes' too
        assert behind is not None and behind.came is None and behind.since_key == again.max_key
        assert changed_minutes(q, behind) == {minute(T0 + 2600)}
        shadows = reader.update("shadow_trades", tables)
        assert shadows is not None and shadows.since_key is None  # first asked for: from the tables
    finally:
        conn.close()
        q.close()


def test_merged_files_rebuild_the_tables_without_a_new_epoch(layout: DataLayout) -> None:
    conn = open_live_db(layout.live_db)
    ingest_events(conn, [opened(1, T0 + 10), opened(2, T0 + 20)])
    export_once(layout)
    ingest_events(conn, [closed(1, T0 + 600), shadow(1, T0 + 700, close=False)])
    export_once(layout)
    q = QueryLayer(layout)
    try:
        before, rebuilds = state(q), q.trade_table_rebuilds
        assert compact(layout).files_merged >= 2
        arrive(conn, q, [closed(2, T0 + 900)])  # the merged file starts below the bound: the tables are rebuilt
        after = state(q)
        assert q.trade_table_rebuilds == rebuilds + 1
        assert after["epoch"] == before["epoch"]  # same events: readers keep their partials
        assert logged(q, before["version"]) == {("_trades", minute(T0 + 900), False)}
        assert open_ids(q, "_trades", "trade_id") == set()  # both closed
        assert open_ids(q, "_shadow_trades", "shadow_id") == {"s-1"}
        export_once(layout)
        prune_live_feed(conn, older_than_us=int((time.time() + 60) * 1e6), max_seq_inclusive=exported_seq(conn))
        for f in list_files(open_target(layout)):
            Path(f.path).unlink()  # the history lost: the rebuilt tables hold other rows
        q.refresh()
        assert q.trade_table_rebuilds == rebuilds + 2 and state(q)["epoch"] == after["epoch"] + 1
    finally:
        conn.close()
        q.close()


def test_a_reader_further_behind_than_the_log_starts_again(layout: DataLayout,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trade_tables, "CHANGES_KEPT", 2)
    conn = open_live_db(layout.live_db)
    ingest_events(conn, [opened(0, T0)])
    q = QueryLayer(layout)
    try:
        tables = {"_trade_changes"}
        behind, keeping_up = TradeChanges(q.connect()), TradeChanges(q.connect())
        first = behind.update("trades", tables)
        keeping_up.update("trades", tables)
        for i in range(1, 7):
            arrive(conn, q, [closed(i, T0 + 60 * i)])
            held = keeping_up.update("trades", tables)
            assert held is not None and held.since_key is not None and held.came is not None
            assert changed_minutes(q, held) == set()  # one update behind: no closed row went
        assert first is not None and state(q)["log_from"] > int(str(first.max_key))
        again = behind.update("trades", tables)
        assert again is not None
        assert again.since_key is None and again.generation > first.generation
    finally:
        conn.close()
        q.close()
