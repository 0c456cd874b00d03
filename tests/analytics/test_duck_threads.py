"""Warm refreshes run their small statements on one DuckDB thread and leave the setting as they found it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pytest

from observability.analytics.metrics_computer import MetricsComputer
from observability.analytics.windows import Window
from observability.config.metrics_config import MetricsConfig
from observability.core.ingest import ingest_events
from observability.core.io.duck_threads import one_thread
from observability.core.io.query import QueryLayer
from observability.core.live_store import open_live_db
from observability.paths import DataLayout
from observability.sim.generate import generate_events


def threads(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])


def test_one_thread_inside_and_the_setting_restored_after_an_error_too() -> None:
    con = duckdb.connect()
    con.execute("SET threads = 3")
    with one_thread(con):
        assert threads(con) == 1
    assert threads(con) == 3
    with pytest.raises(duckdb.Error), one_thread(con):
        con.execute("SELECT * FROM no_such_table")
    assert threads(con) == 3


def test_a_warm_live_refresh_runs_on_one_thread_a_first_compute_on_all(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """The trade tables' update of new events and every compute after a live one run on one thread (observed from
    inside: the real methods are called); the first compute, which copies the window, has every thread."""
    now = time.time()
    events = list(generate_events(seed=3, sim_seconds=120, events_per_second=20.0, start_ts=now - 200))
    conn = open_live_db(layout.live_db)
    ingest_events(conn, events[:1000])
    q = QueryLayer(layout)
    con = q.connect()
    con.execute("SET threads = 2")
    live = MetricsComputer(con, metrics_config)
    seen: dict[str, list[int]] = {"prepare": [], "apply": []}

    def watched(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            seen[name].append(threads(con))
            return method(*args, **kwargs)
        return call

    live.cache.prepare = watched("prepare", live.cache.prepare)  # type: ignore[method-assign]
    q._trades._apply = watched("apply", q._trades._apply)  # type: ignore[method-assign]

    def window() -> Window:
        return Window(label="w", since=datetime.fromtimestamp(now - 3600, UTC),
                      until=datetime.now(UTC) + timedelta(seconds=1))

    try:
        live.compute(window())
        ingest_events(conn, events[1000:])
        q.refresh()
        live.compute(window())
        assert seen == {"prepare": [2, 1], "apply": [1]}
        assert threads(con) == 2
    finally:
        conn.close()
        q.close()
