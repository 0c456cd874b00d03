"""Evidence ids looked for in the window's last minutes first are still each group's most recent rows.

The ids are checked against a plain Python top-N over the events written, for a dense group (enough
rows in the last minute, or in the last ten), a group whose recent rows only the two-hour tail holds, and a sparse
group whose most recent rows lie hours back (found only over the whole window).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from observability.analytics.metrics_computer import PROBE_EVERY, MetricsComputer
from observability.analytics.windows import Window
from observability.config.metrics_config import MetricsConfig
from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.io.query import QueryLayer
from observability.core.live_store import open_live_db
from observability.paths import DataLayout

GATES = {"busy": 2.0, "dense": 5.0, "two_hours": 90.0, "sparse": 1800.0}
"""Gate -> seconds between its decisions over the last 6 h."""


def decisions(now: float, gates: list[str]) -> list[dict[str, Any]]:
    out = []
    for k, gate in enumerate(gates):
        every = GATES[gate]
        ts, i = now - 10.0 - k * 1e-3, 0
        while ts > now - 6 * 3600:
            out.append(builders.gate_decision(gate=gate, value=1.0, threshold=0.5, direction="min", symbol="BTCUSDT",
                                              trace_id=f"{gate}-{i}", mode="scalp", ts_event=ts))
            ts, i = ts - every, i + 1
    return out


@pytest.mark.parametrize(("gates", "evidence_queries"), [
    (["busy"], 1),  # the last minute holds enough rows
    (["busy", "dense"], 2),  # the last 10 minutes do
    (["dense", "two_hours"], 3),  # the last 2 hours do
    (["dense", "two_hours", "sparse"], 4),  # only the whole window does
])
def test_evidence_ids_are_each_groups_most_recent_rows_whatever_tail_holds_them(
    layout: DataLayout, metrics_config: MetricsConfig, gates: list[str], evidence_queries: int
) -> None:
    now = time.time()
    events = decisions(now, gates)
    conn = open_live_db(layout.live_db)
    ingest_events(conn, events)
    conn.close()
    window = Window(label="24h", since=datetime.now(UTC) - timedelta(hours=24),
                    until=datetime.now(UTC) + timedelta(seconds=1))
    q = QueryLayer(layout)
    try:
        report = MetricsComputer(q.connect(), metrics_config).compute(window, metrics=["gate_decisions_total"])
        no_ids = metrics_config.model_copy(update={"evidence_ids": 0})
        bare = MetricsComputer(q.connect(), no_ids).compute(window, metrics=["gate_decisions_total"])
    finally:
        q.close()
    assert report.queries - bare.queries == evidence_queries
    n = metrics_config.evidence_ids
    for gate in gates:
        rows = sorted((e for e in events if e["payload"]["gate"] == gate), key=lambda e: -e["ts_event"])
        expected = [e["event_id"] for e in rows[:n]]
        for scope in ("all", "scalp"):
            value = report.get("gate_decisions_total", scope, gate)
            assert value is not None and value.value == len(rows)
            assert value.evidence == expected, (gate, scope)


def test_a_computer_of_a_past_window_starts_at_the_tail_that_served_last_time_and_probes_one_shorter(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """A group only the whole window serves costs one evidence query at the next computes, not one per tail;
    after PROBE_EVERY of them the next shorter tail is tried again (rows may have become denser). The ids stay
    the same. (A past window is rebuilt at each compute; a live one keeps its ids between refreshes instead,
    see test_kept_ids.py.)"""
    now = time.time()
    events = decisions(now, ["sparse"])
    conn = open_live_db(layout.live_db)
    ingest_events(conn, events)
    until = datetime.now(UTC) - timedelta(minutes=10)
    window = Window(label="24h", since=until - timedelta(hours=24), until=until)
    q = QueryLayer(layout)
    try:
        no_ids = metrics_config.model_copy(update={"evidence_ids": 0})
        bare = MetricsComputer(q.connect(), no_ids).compute(window, metrics=["gate_decisions_total"]).queries
        past = MetricsComputer(q.connect(), metrics_config)
        reports = []
        for i in range(PROBE_EVERY + 3):
            ingest_events(conn, [builders.gate_decision(gate="other", value=1.0, threshold=0.5, direction="min",
                                                        symbol="BTCUSDT", trace_id=f"o-{i}", mode="scalp",
                                                        ts_event=now - 3600 + i)])
            q.refresh()
            reports.append(past.compute(window, metrics=["gate_decisions_total"]))
    finally:
        conn.close()
        q.close()
    # 1 min, 10 min, 2 h, all; then all; then 2 h, all; then all again.
    assert [r.queries - bare for r in reports] == [4, *[1] * PROBE_EVERY, 2, 1]
    shown = sorted((e for e in events if e["ts_event"] < until.timestamp()), key=lambda e: -e["ts_event"])
    expected = [e["event_id"] for e in shown[:metrics_config.evidence_ids]]
    for report in reports:
        value = report.get("gate_decisions_total", "all", "sparse")
        assert value is not None and value.evidence == expected


def test_a_refresh_without_new_rows_looks_no_evidence_up_again(layout: DataLayout,
                                                                metrics_config: MetricsConfig) -> None:
    """Same top row and the same rows per group in the window: the same most recent ids, without a query."""
    now = time.time()
    conn = open_live_db(layout.live_db)
    ingest_events(conn, decisions(now, ["dense", "sparse"]))
    conn.close()
    window = Window(label="24h", since=datetime.now(UTC) - timedelta(hours=24),
                    until=datetime.now(UTC) + timedelta(seconds=1))
    q = QueryLayer(layout)
    try:
        live = MetricsComputer(q.connect(), metrics_config)
        first = live.compute(window, metrics=["gate_decisions_total"])
        q.refresh()
        again = live.compute(window, metrics=["gate_decisions_total"])
        no_ids = metrics_config.model_copy(update={"evidence_ids": 0})
        bare = MetricsComputer(q.connect(), no_ids).compute(window, metrics=["gate_decisions_total"]).queries
    finally:
        q.close()
    assert first.queries > bare and again.queries == bare
    assert [v.evidence for v in again.values] == [v.evidence for v in first.values]
