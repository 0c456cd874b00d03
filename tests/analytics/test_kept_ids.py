"""Evidence ids kept between live refreshes (kept_ids.py) are each group's most recent rows in the window.

Checked against a plain Python top-N over the events written: after new rows, a late row, rows logged
ahead of the window end that a later window reaches, and open trades that closed (an in-place change that
takes kept rows away, and puts back an older open trade of a changed minute).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from observability.analytics.metrics_computer import MetricsComputer
from observability.analytics.windows import Window
from observability.config.metrics_config import MetricsConfig
from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.io.query import QueryLayer
from observability.core.live_store import open_live_db
from observability.paths import DataLayout

METRIC = ["gate_decisions_total"]


def decision(gate: str, i: int, ts: float) -> dict[str, Any]:
    return builders.gate_decision(gate=gate, value=1.0, threshold=0.5, direction="min", symbol="BTCUSDT",
                                  trace_id=f"{gate}-{i}", mode="scalp", ts_event=ts)


def window(since: float, until: float) -> Window:
    return Window(label="w", since=datetime.fromtimestamp(since, UTC), until=datetime.fromtimestamp(until, UTC))


def bare_and_live(q: QueryLayer, config: MetricsConfig, w: Window, metrics: list[str]) -> tuple[int, MetricsComputer]:
    """The queries a computation of `metrics` makes without evidence ids, and a live computer after its first one."""
    bare = MetricsComputer(q.connect(), config.model_copy(update={"evidence_ids": 0})).compute(w, metrics=metrics)
    live = MetricsComputer(q.connect(), config)
    live.compute(w, metrics=metrics)
    return bare.queries, live


def newest(events: list[dict[str, Any]], gate: str, w: Window, n: int) -> list[str]:
    lo, hi = w.since.timestamp(), w.until.timestamp()
    rows = [e for e in events if e["payload"]["gate"] == gate and lo <= e["ts_event"] < hi]
    return [e["event_id"] for e in sorted(rows, key=lambda e: -e["ts_event"])[:n]]


def test_kept_ids_take_one_query_per_refresh_and_stay_each_groups_newest_rows(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """After the first lookup, a refresh reads only the new rows' ids (one query), whether they are the newest,
    late (older than kept ones) or ahead of the window end (counted once a later window reaches them)."""
    now = time.time()
    since = now - 6 * 3600
    events = [decision("dense", i, now - 10 - 5 * i) for i in range(200)]
    events += [decision("sparse", i, now - 10 - 1800 * i) for i in range(10)]
    conn = open_live_db(layout.live_db)
    ingest_events(conn, events)
    q = QueryLayer(layout)
    try:
        bare, live = bare_and_live(q, metrics_config, window(since, now + 1), METRIC)
        arrivals = [
            ([decision("dense", 900, now - 4), decision("sparse", 900, now - 2.5 * 3600)], now + 1),  # new, late
            ([decision("dense", 901, now + 30), decision("sparse", 901, now + 31)], now + 1),  # ahead of the end
            ([decision("dense", 902, now - 3)], now + 60),  # the window reaches the rows ahead
        ]
        for batch, until in arrivals:
            events += batch
            ingest_events(conn, batch)
            q.refresh()
            w = window(since, until)
            report = live.compute(w, metrics=METRIC)
            assert report.queries - bare == 1
            for gate in ("dense", "sparse"):
                for scope in ("all", "scalp"):
                    value = report.get("gate_decisions_total", scope, gate)
                    assert value is not None
                    assert value.evidence == newest(events, gate, w, metrics_config.evidence_ids), (gate, until)
        assert live.kept_ids.lookups == 1
    finally:
        conn.close()
        q.close()


def _trade(i: int, ts: float) -> dict[str, Any]:
    exe = builders.execution(order_id=f"o-{i}", side="buy", price_requested=100.0, price_filled=100.0,
                             size_requested=1.0, size_filled=1.0, fees=0.1, latency_ms=5.0)
    return builders.trade_opened(trade_id=f"T{i:02d}", side="long", execution=exe, model_id="m", symbol="X",
                                 trace_id=f"tr-{i}", mode="scalp", model_confidence=0.7, ts_event=ts)


def _close(i: int, ts: float) -> dict[str, Any]:
    return builders.trade_closed(trade_id=f"T{i:02d}", side="long", entry_price=100.0, exit_price=101.0, size=1.0,
                                 fees=0.2, hold_seconds=60.0, exit_reason="timeout", symbol="X", trace_id=f"tr-{i}",
                                 mode="scalp", ts_event=ts)


def test_open_trades_that_close_are_no_longer_kept_and_an_older_one_put_back_is_not_taken_for_the_newest(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """Open trades one a minute (T00 oldest), and T50 in T10's minute. With 2 ids, 6 are kept: T29-T24. T29-T25
    close, and so does T10: its minute's rows are read again, T50 (open) among them. The newest open trades are
    T24 and T23, not T24 and T50 (T23's minute did not change, so T23 is not among the rows read): the kept
    rows no longer fill the ids from the kept floor (T24) up, so they are looked up again."""
    cfg = metrics_config.model_copy(update={"evidence_ids": 2})
    now = time.time()
    start = (int(now) // 60 - 40) * 60.0
    opens = [_trade(i, start + 60 * i + 1) for i in range(30)] + [_trade(50, start + 60 * 10 + 30)]
    conn = open_live_db(layout.live_db)
    ingest_events(conn, opens)
    q = QueryLayer(layout)
    try:
        live = MetricsComputer(q.connect(), cfg)
        w = window(now - 3600, now + 1)
        report = live.compute(w, metrics=["trades_open"])
        assert [v.evidence for v in report.values] == [["T29", "T28"], ["T29", "T28"]]
        ingest_events(conn, [_close(i, now - 5) for i in (25, 26, 27, 28, 29, 10)])
        q.refresh()
        report = live.compute(window(now - 3600, now + 1), metrics=["trades_open"])
        assert [(v.scope, v.value, v.evidence) for v in report.values] == [
            ("all", 25, ["T24", "T23"]), ("scalp", 25, ["T24", "T23"])]
        assert live.kept_ids.lookups == 2
    finally:
        conn.close()
        q.close()


def test_groups_over_one_view_read_their_new_rows_in_one_query_each_with_its_own_filter(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """All gate decisions per gate, and the blocking ones per gate: one query reads both groups' new rows; each
    keeps the newest rows its filter lets through."""
    now = time.time()
    since = now - 3600
    events = [builders.gate_decision(gate="spread", value=1.0, threshold=0.5, direction="min", symbol="X",
                                     trace_id=f"t-{i}", mode="scalp", ts_event=now - 600 + i)
              if i % 3 else
              builders.gate_decision(gate="spread", value=0.1, threshold=0.5, direction="min", symbol="X",
                                     trace_id=f"t-{i}", mode="scalp", ts_event=now - 600 + i)
              for i in range(120)]
    metrics = ["gate_decisions_total", "gate_block_share_pct"]
    conn = open_live_db(layout.live_db)
    ingest_events(conn, events[:60])
    q = QueryLayer(layout)
    try:
        bare, live = bare_and_live(q, metrics_config, window(since, now + 1), metrics)
        ingest_events(conn, events[60:])
        q.refresh()
        report = live.compute(window(since, now + 1), metrics=metrics)
        assert report.queries - bare == 1
        n = metrics_config.evidence_ids
        blocked = [e for e in events if not e["payload"]["passed"]]
        for name, rows in (("gate_decisions_total", events), ("gate_block_share_pct", blocked)):
            value = report.get(name, "all", "spread")
            assert value is not None
            assert value.evidence == [e["event_id"] for e in sorted(rows, key=lambda e: -e["ts_event"])[:n]], name
    finally:
        conn.close()
        q.close()
