"""Logger counters (dropped, dead-lettered, kill switch) are cumulative PER LOGGER PROCESS: a restart
starts them again at 0. The loss in a window is the sum of the increases, a fall being a restart."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from observability.analytics.insight_aggregator import InsightSettings, insights
from observability.analytics.metrics_computer import MetricsComputer
from observability.analytics.windows import Window
from observability.core.io.query import QueryLayer
from observability.core.live_store import HEALTH_COLUMNS, INSERT_HEALTH_SQL, open_live_db
from observability.paths import DataLayout

T0 = 1_767_571_200.0  # 2026-01-05 00:00 UTC
WINDOW = Window(label="1d", since=datetime(2026, 1, 5, tzinfo=UTC), until=datetime(2026, 1, 6, tzinfo=UTC))
# (seconds after T0, pid, dropped_total, dead_letter_total, kill_switch_fired_total)
SAMPLES = [
    (10, 1, 500, 7, 1),  # an engine that lost 500 events BEFORE this window
    (20, 1, 500, 7, 1),
    (30, 2, 0, 0, 0),  # restarted: counters start again
    (40, 2, 3, 1, 0),  # 3 dropped, 1 dead-lettered in this window
    (50, 2, 3, 1, 0),
]


def _populate(layout: DataLayout) -> None:
    names = [c[0] for c in HEALTH_COLUMNS]
    conn = open_live_db(layout.live_db)
    try:
        for dt, pid, dropped, dead, fires in SAMPLES:
            row: dict[str, Any] = {n: None for n in names}
            row.update(ts=int((T0 + dt) * 1_000_000), status="ok", queue_depth=0, queue_maxsize=1000,
                       fill_ratio=0.0, accepted_total=1000, dropped_total=dropped, dropped_by_severity="{}",
                       dropped_by_type="{}", written_total=1000, dead_letter_total=dead, writer_lag_events=0,
                       writer_lag_s=0.0, events_per_s=10.0, written_per_s=10.0, kill_switch=0,
                       kill_switch_fired_total=fires, writer_alive=1, writer_error=None, pid=pid)
            conn.execute(INSERT_HEALTH_SQL, [row[n] for n in names])
        conn.commit()
    finally:
        conn.close()


@pytest.fixture
def restarted(layout: DataLayout) -> QueryLayer:
    layout.ensure()
    _populate(layout)
    return QueryLayer(layout)


def test_metrics_count_only_the_losses_after_a_logger_restart(restarted: QueryLayer) -> None:
    report = MetricsComputer(restarted.connect()).compute(
        WINDOW, metrics=["events_dropped", "dead_letters", "kill_switch_fires"])
    assert report.value("events_dropped") == 3
    assert report.value("dead_letters") == 1
    assert report.value("kill_switch_fires") == 0
    assert {a.metric for a in report.alerts} == {"events_dropped", "dead_letters"}


def test_logger_loss_insight_counts_only_the_losses_after_a_restart(restarted: QueryLayer) -> None:
    found = {f.subject: f for f in insights(restarted.connect(), WINDOW, InsightSettings()).findings
             if f.kind == "logger_loss"}
    assert found["dropped"].numbers["dropped"][0] == 3
    assert found["dead_letters"].numbers["dead_letters"][0] == 1
    assert "kill_switch" not in found
