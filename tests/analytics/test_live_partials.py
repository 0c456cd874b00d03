"""The live refresh (minute partials, per-trace latency, numpy equity) equals a recompute from the rows.

Every metric of metrics.yaml is compared with `MetricsComputer(incremental=False)` on a fresh query
layer: after new events arrive, after the window start slides past rows (mid-minute), and after
export + pruning moved the rows from live.db to Parquet while the live computer kept its tables.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from observability.analytics.metrics_computer import MetricsComputer, MetricsReport
from observability.analytics.partials import split_expr
from observability.analytics.windows import Window
from observability.config.metrics_config import MetricsConfig, MetricSpec
from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.io.exporter import export_once
from observability.core.io.query import QueryLayer
from observability.core.live_store import exported_seq, open_live_db, prune_live_feed
from observability.paths import DataLayout
from observability.sim.generate import generate_events

Row = tuple[float | None, int, frozenset[str]]


def table(report: MetricsReport) -> dict[tuple[str, str, str | None], Row]:
    return {(v.name, v.scope, v.group): (v.value, v.n, frozenset(v.evidence)) for v in report.values}


def assert_same(live: MetricsReport, layout: DataLayout, config: MetricsConfig, window: Window,
                metrics: list[str] | None = None) -> None:
    ref_q = QueryLayer(layout)
    try:
        ref = table(MetricsComputer(ref_q.connect(), config, incremental=False).compute(window, metrics=metrics))
    finally:
        ref_q.close()
    got = table(live)
    assert got.keys() == ref.keys()
    for key, (value, n, ids) in ref.items():
        g_value, g_n, g_ids = got[key]
        assert g_n == n, key
        assert g_value == (None if value is None else pytest.approx(value, rel=1e-9, abs=1e-9)), key
        assert g_ids == ids, key


def window(since: float) -> Window:
    return Window(label="w", since=datetime.fromtimestamp(since, UTC), until=datetime.now(UTC) + timedelta(seconds=1))


def arrive(conn: sqlite3.Connection, q: QueryLayer, live: MetricsComputer, events: list[dict[str, Any]],
           since: float) -> tuple[MetricsReport, Window]:
    """New events reach live.db; the query layer refreshes, and the live computer computes the window from `since`."""
    ingest_events(conn, events)
    q.refresh()
    w = window(since)
    return live.compute(w), w


def live_over(layout: DataLayout, config: MetricsConfig, events: list[dict[str, Any]]
              ) -> tuple[sqlite3.Connection, QueryLayer, MetricsComputer]:
    """live.db holding `events`, a query layer over it and a live computer on it (the caller closes the first two)."""
    conn = open_live_db(layout.live_db)
    ingest_events(conn, events)
    q = QueryLayer(layout)
    return conn, q, MetricsComputer(q.connect(), config)


def signal(i: int, ts: float) -> dict[str, Any]:
    """Trace tr-i's signal (symbol X, scalp) at ts."""
    return builders.signal_received(signal_id=f"s-{i}", side="long", confidence=0.6, price=100.0, model_id="m",
                                    strategy="st", symbol="X", trace_id=f"tr-{i}", mode="scalp", ts_event=ts)


def gate(i: int, ts: float) -> dict[str, Any]:
    """Trace tr-i's spread gate (passed) at ts."""
    return builders.gate_decision(gate="spread", value=5.0, threshold=8.0, direction="max", symbol="X",
                                  trace_id=f"tr-{i}", mode="scalp", ts_event=ts)


def opened(i: int, ts: float, *, trace: int | None = None) -> dict[str, Any]:
    """Trade Ti opened at ts on trace tr-i (or tr-`trace`), symbol X, scalp."""
    exe = builders.execution(order_id=f"o-{i}", side="buy", price_requested=100.0, price_filled=100.0,
                             size_requested=1.0, size_filled=1.0, fees=0.1, latency_ms=5.0)
    return builders.trade_opened(trade_id=f"T{i}", side="long", execution=exe, model_id="m", symbol="X",
                                 trace_id=f"tr-{i if trace is None else trace}", mode="scalp", ts_event=ts)


def closed(i: int, ts: float, *, hold: float = 30.0) -> dict[str, Any]:
    """Trade Ti closed at ts after `hold` seconds, one unit up (a win)."""
    return builders.trade_closed(trade_id=f"T{i}", side="long", entry_price=100.0, exit_price=101.0, size=1.0,
                                 fees=0.2, hold_seconds=hold, exit_reason="take_profit", symbol="X",
                                 trace_id=f"tr-{i}", mode="scalp", ts_event=ts)


def test_live_refresh_equals_a_recompute_through_appends_slides_and_export(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    now = time.time()
    events: list[dict[str, Any]] = list(generate_events(seed=5, sim_seconds=1500, events_per_second=8.0,
                                                        start_ts=now - 1800, settle=True))
    for i, event in enumerate(events):  # no two rows at the same time: "the most recent ids" is one set
        event["ts_event"] += i * 4e-6
    first, second, third = events[:7000], events[7000:10000], events[10000:]
    conn = open_live_db(layout.live_db)
    ingest_events(conn, first)
    q = QueryLayer(layout)
    live = MetricsComputer(q.connect(), metrics_config)
    try:
        w = window(now - 3600)
        assert_same(live.compute(w), layout, metrics_config, w)

        report, w = arrive(conn, q, live, second, now - 3600)
        assert live.cache.last["gate_decisions"] == "appended"
        assert live.cache.last["trace_latency"] == "incremental"
        assert live.cache.held("trades") is not None  # trades' minute partials follow the trade events
        assert live.cache.held("shadow_gates") is not None  # so do those of shadow trades per blocking gate
        assert live.quantiles.last == {"trades": "advanced", "trace_latency": "advanced"}  # kept values
        assert live.cache.held("trace_latency") is not None  # minute partials of the latencies kept per trace
        assert_same(report, layout, metrics_config, w)

        w = window(now - 1000.5)  # later start, mid-minute: rows slide out, edge minutes read from rows
        report = live.compute(w)
        assert live.cache.last["gate_decisions"] == "appended"
        assert live.quantiles.last == {"trades": "advanced", "trace_latency": "advanced"}
        assert_same(report, layout, metrics_config, w)

        export_once(layout)
        prune_live_feed(conn, older_than_us=int((now + 60) * 1e6), max_seq_inclusive=exported_seq(conn))
        assert conn.execute("SELECT count(*) FROM live_feed").fetchone() == (0,)
        report, w = arrive(conn, q, live, third, now - 1000.5)
        assert live.cache.last["gate_decisions"] == "appended"
        assert live.quantiles.last == {"trades": "advanced", "trace_latency": "advanced"}
        assert_same(report, layout, metrics_config, w)
        assert report.value("signals_total") == sum(
            1 for e in events if e["event_type"] == "signal_received" and e["ts_event"] >= now - 1000.5)
    finally:
        conn.close()
        q.close()


@pytest.mark.parametrize(("expr", "splits"), [
    ("count(*)", True),
    ("100.0 * avg(CASE WHEN passed THEN 1 ELSE 0 END)", True),
    ("avg(pnl_net) FILTER (WHERE pnl_net > 0) / nullif(-avg(pnl_net) FILTER (WHERE pnl_net < 0), 0)", True),
    ("100.0 * count(*) / sum(count(*)) OVER (PARTITION BY scope)", True),
    ("sum(CASE WHEN reason = 'a(b' THEN 1 END)", True),
    ("count(DISTINCT trace_id)", False),
    ("max(value, 3)", False),
    ("sum(x ORDER BY ts)", False),
])
def test_only_plain_count_sum_avg_min_max_combinations_split(expr: str, splits: bool) -> None:
    assert (split_expr(expr, "p") is not None) is splits


def test_a_quantile_is_not_combined_from_partials(layout: DataLayout, metrics_config: MetricsConfig) -> None:
    """Its residue still holds an aggregate: the computer aggregates the rows for it instead."""
    split = split_expr("quantile_cont(x, 0.95)", "p")
    assert split is not None and not split.partials and "quantile_cont" in split.residue


def test_a_trade_closing_after_it_was_counted_open_moves_to_its_close_minute(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """The open trade sits in its open minute; the close replaces its row in another minute."""
    now = time.time()
    exe = builders.execution(order_id="o-1", side="buy", price_requested=100.0, price_filled=100.0, size_requested=1.0,
                             size_filled=1.0, fees=0.1, latency_ms=5.0)
    opened = builders.trade_opened(trade_id="T1", side="long", execution=exe, model_id="m", symbol="X",
                                   trace_id="tr-1", mode="scalp", model_confidence=0.7, ts_event=now - 600)
    closed = builders.trade_closed(trade_id="T1", side="long", entry_price=100.0, exit_price=103.0, size=1.0,
                                   fees=0.2, hold_seconds=420.0, exit_reason="take_profit", symbol="X",
                                   trace_id="tr-1", mode="scalp", ts_event=now - 180)
    conn = open_live_db(layout.live_db)
    ingest_events(conn, [opened])
    q = QueryLayer(layout)
    live = MetricsComputer(q.connect(), metrics_config)
    try:
        w = window(now - 3600)
        report = live.compute(w)
        assert (report.value("trades_open"), report.value("trades_closed")) == (1, 0)
        report, w = arrive(conn, q, live, [closed], now - 3600)
        assert live.cache.held("trades") is not None
        assert (report.value("trades_open"), report.value("trades_closed")) == (0, 1)
        assert report.value("pnl_net_usdt") == pytest.approx(2.8)  # (103 - 100) * 1 - 0.2
        assert_same(report, layout, metrics_config, w)
        report = live.compute(window(now - 300))  # the open minute is out of the window, the close is in
        assert (report.value("trades_open"), report.value("trades_closed")) == (0, 1)
    finally:
        conn.close()
        q.close()


def test_rows_at_the_window_edges_count_exactly_once(layout: DataLayout, metrics_config: MetricsConfig) -> None:
    """A start in mid-minute: its partial minute is read from the rows, [since, until) to the millisecond."""
    until = float(int(time.time())) + 1.5
    since = until - 1800.25
    stamps = [since - 0.001, since, since + 59.0, until - 600.0, until - 0.001, until]
    events = [builders.gate_decision(gate="spread", value=5.0, threshold=8.0, direction="max", symbol="X",
                                     trace_id=f"tr-{i}", mode="scalp", ts_event=ts) for i, ts in enumerate(stamps)]
    conn = open_live_db(layout.live_db)
    ingest_events(conn, events[:3])
    q = QueryLayer(layout)
    live = MetricsComputer(q.connect(), metrics_config)
    w = Window(label="w", since=datetime.fromtimestamp(since, UTC), until=datetime.fromtimestamp(until, UTC))
    try:
        assert live.compute(w, metrics=["gate_decisions_total"]).value("gate_decisions_total", group="spread") == 2
        ingest_events(conn, events[3:])
        q.refresh()
        report = live.compute(w)
        assert live.cache.held("gate_decisions") is not None
        assert report.value("gate_decisions_total", group="spread") == 4  # since, +59 s, -600 s, until - 1 ms
        assert_same(report, layout, metrics_config, w)
    finally:
        conn.close()
        q.close()


def spread_gates(report: MetricsReport, layout: DataLayout, config: MetricsConfig, window: Window) -> float | None:
    """The window's spread gate decisions, once every metric was checked against a recompute."""
    assert_same(report, layout, config, window)
    return report.value("gate_decisions_total", group="spread")


def test_a_row_ahead_of_the_window_end_in_its_last_minute_stays_out_of_that_minutes_partials(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """The last minute's partials stand for its rows only while no held row lies at or past the window's end (a
    clock ahead): then that minute is read from the rows, to the end exactly."""
    minute = time.time() // 60 * 60 - 60
    end = minute + 30.0  # mid-minute, within the live slack of now
    w = Window(label="w", since=datetime.fromtimestamp(minute - 1800, UTC), until=datetime.fromtimestamp(end, UTC))
    conn, q, live = live_over(layout, metrics_config, [gate(0, minute - 300), gate(1, minute + 10)])
    try:
        assert live.compute(w).value("gate_decisions_total", group="spread") == 2
        ingest_events(conn, [gate(2, minute + 20), gate(3, minute + 40)])  # the second one past the end
        q.refresh()
        report = live.compute(w)
        assert live.cache.last["gate_decisions"] == "appended"
        assert spread_gates(report, layout, metrics_config, w) == 3
        later = Window(label="w", since=w.since, until=datetime.fromtimestamp(minute + 50.0, UTC))
        report = live.compute(later)  # nothing past the end now: the last minute from its partials
        assert spread_gates(report, layout, metrics_config, later) == 4
    finally:
        conn.close()
        q.close()


def test_a_late_row_of_the_window_starts_minute_counts_from_its_kept_rows(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """The window start's partial minute is read from a small table of that minute's held rows, kept from the refresh
    that reached it: a row logged late into that minute (inside or before the window start) must land there too."""
    now = time.time()
    minute = (now - 600) // 60 * 60
    conn, q, live = live_over(layout, metrics_config, [gate(0, minute + 15), gate(1, minute + 45), gate(2, now - 60)])
    try:
        report, w = arrive(conn, q, live, [], minute + 20)
        assert report.value("gate_decisions_total", group="spread") == 2
        report, w = arrive(conn, q, live, [gate(3, minute + 30), gate(4, minute + 10)], minute + 20)  # late rows
        assert live.cache.last["gate_decisions"] == "appended"
        assert spread_gates(report, layout, metrics_config, w) == 3
        report, w = arrive(conn, q, live, [gate(5, now - 30)], minute + 35)  # the start moves on within the minute
        assert spread_gates(report, layout, metrics_config, w) == 3
    finally:
        conn.close()
        q.close()


def test_rows_a_window_start_passed_within_its_minute_stay_out_though_still_held(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """A held table drops the rows before the window start once per minute of that start, not at each refresh:
    rows the start passed since are still held, and every reader must leave them out (metrics, partials'
    edges, kept evidence ids, per-trace latency)."""
    now = time.time()
    minute = (now - 600) // 60 * 60
    # Two traces (signal + gate + market snapshot) in the start's minute, 10 s and 30 s into it, more later.
    events = [e for i, ts in enumerate((minute + 10, minute + 30, now - 60, now - 30))
              for e in (signal(i, ts), gate(i, ts + 0.1),
                        builders.market_context(symbol="X", price=1.0, spread_bps=2.0 + i, volatility_bps=1.0,
                                                ts_event=ts))]
    conn = open_live_db(layout.live_db)
    q = QueryLayer(layout)
    live = MetricsComputer(q.connect(), metrics_config)
    try:
        for k, since in enumerate((minute + 1, minute + 5, minute + 20)):  # the last passes trace 0's rows
            report, w = arrive(conn, q, live, events[k * 3:k * 3 + 3] if k < 2 else events[6:], since)
            assert_same(report, layout, metrics_config, w)
        assert live.cache.last["signals"] == "appended"
        (held,) = q.connect().execute("SELECT count(*) FROM _obs_h_signals").fetchone() or (0,)
        assert held == 4  # trace 0's signal is still held ...
        assert report.value("signals_total") == 3  # ... and not counted
    finally:
        conn.close()
        q.close()


def test_partials_tables_made_by_one_refresh_compact_at_different_refreshes(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """Each appended partials table is re-summed every COMPACT_EVERY appends; tables created by the same refresh
    and appended to at every one do it at different refreshes (all at once cost one refresh the lot), and the
    metrics still equal a recompute after their compactions."""
    metrics = ["signals_total", "signal_confidence_avg", "gate_decisions_total", "gate_pass_rate"]
    now = time.time()
    conn = open_live_db(layout.live_db)
    ingest_events(conn, [signal(0, now - 300), gate(0, now - 299.9)])
    q = QueryLayer(layout)
    live = MetricsComputer(q.connect(), metrics_config)
    compacted: dict[str, list[int]] = {}
    try:
        live.compute(window(now - 3600), metrics=metrics)
        before = {p.table: p.appends for p in live.buckets._parts.values()}
        for k in range(1, 82):
            ingest_events(conn, [signal(k, now - 300 + k), gate(k, now - 299.9 + k)])
            q.refresh()
            w = window(now - 3600)
            report = live.compute(w, metrics=metrics)
            for p in live.buckets._parts.values():
                if p.appends < before.get(p.table, p.appends):  # compacted in this refresh
                    compacted.setdefault(p.table, []).append(k)
                before[p.table] = p.appends
        assert all(compacted.get(t) for t in before), compacted
        refreshes = [k for ks in compacted.values() for k in ks]
        assert len(refreshes) == len(set(refreshes)), compacted
        assert_same(report, layout, metrics_config, w, metrics)
    finally:
        conn.close()
        q.close()


def test_a_computer_that_skipped_refreshes_or_saw_none_still_equals_a_recompute(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """New rows are staged from the rows the last refresh read (`_live_new`) only when they hold every row
    the computer has not seen: after two refreshes without a compute (the first one's rows are only in
    `_live`), after a refresh that read nothing, and after an export moved seen rows to Parquet, the
    live computer equals a recompute."""
    now = time.time()
    events: list[dict[str, Any]] = list(generate_events(seed=8, sim_seconds=900, events_per_second=8.0,
                                                        start_ts=now - 1000, settle=True))
    for i, event in enumerate(events):
        event["ts_event"] += i * 4e-6
    chunks = [events[i:i + 1200] for i in range(0, len(events), 1200)]
    conn = open_live_db(layout.live_db)
    ingest_events(conn, chunks[0])
    q = QueryLayer(layout)
    live = MetricsComputer(q.connect(), metrics_config)
    try:
        live.compute(window(now - 3600))
        for chunk in chunks[1:3]:  # two refreshes, one compute
            ingest_events(conn, chunk)
            q.refresh()
        w = window(now - 3600)
        assert_same(live.compute(w), layout, metrics_config, w)
        assert live.cache.last["gate_decisions"] == "appended"
        ingest_events(conn, chunks[3])
        q.refresh()
        q.refresh()  # nothing new: `_live_new` is empty
        w = window(now - 3600)
        assert_same(live.compute(w), layout, metrics_config, w)
        export_once(layout)  # the watermark moves past rows the computer has seen: they now come from Parquet
        ingest_events(conn, chunks[4])
        q.refresh()
        w = window(now - 3600)
        assert_same(live.compute(w), layout, metrics_config, w)
        assert live.cache.last["gate_decisions"] == "appended"
    finally:
        conn.close()
        q.close()


def test_a_gate_after_the_window_end_falls_back_to_the_full_trace_latency_sql(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """The kept last gate time per trace cannot tell a gate inside the window from one after its end
    (the TUI's window ends now; a clock ahead can log later): such a refresh uses the derived SQL."""
    now = time.time()
    conn = open_live_db(layout.live_db)
    ingest_events(conn, [signal(1, now - 300), gate(1, now - 299.5), signal(2, now - 200), gate(2, now - 199.9)])
    q = QueryLayer(layout)
    live = MetricsComputer(q.connect(), metrics_config)
    try:
        live.compute(window(now - 3600))
        report, w = arrive(conn, q, live, [signal(3, now - 100), gate(3, now - 99.8)], now - 3600)
        assert live.cache.last["trace_latency"] == "incremental"
        assert_same(report, layout, metrics_config, w)
        ahead = [signal(4, now - 50), gate(4, now + 600)]  # logged ahead of the window's end
        report, w = arrive(conn, q, live, ahead, now - 3600)
        assert live.cache.last["trace_latency"] == "derived"
        assert_same(report, layout, metrics_config, w)
    finally:
        conn.close()
        q.close()


def test_evidence_of_trades_closed_in_the_last_minutes_equals_a_recompute(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """The first evidence tail of the in-place trade views is read from their recent rows: with more than
    `evidence_ids` trades closed in the last second (in the window's last minute), the ids are the most
    recent ones, as a recompute over every row finds them, also in a refresh without trade events."""
    now = time.time()

    def trade(i: int, closed_at: float) -> list[dict[str, Any]]:
        exe = builders.execution(order_id=f"o-{i}", side="buy", price_requested=100.0, price_filled=100.0,
                                 size_requested=1.0, size_filled=1.0, fees=0.1, latency_ms=5.0)
        mode = "scalp" if i % 3 else "runner"
        return [builders.trade_opened(trade_id=f"T{i}", side="long", execution=exe, model_id="m", symbol="X",
                                      trace_id=f"tr-{i}", mode=mode, model_confidence=0.5 + i % 5 / 10,
                                      ts_event=closed_at - 90 - i * 1e-3),
                builders.trade_closed(trade_id=f"T{i}", side="long", entry_price=100.0, exit_price=100.0 + i % 7 - 3,
                                      size=1.0, fees=0.2, hold_seconds=90.0, exit_reason="take_profit", symbol="X",
                                      trace_id=f"tr-{i}", mode=mode, ts_event=closed_at)]

    conn = open_live_db(layout.live_db)
    ingest_events(conn, [e for i in range(40) for e in trade(i, now - 400 + i * 5)])
    q = QueryLayer(layout)
    live = MetricsComputer(q.connect(), metrics_config)
    try:
        live.compute(window(now - 3600))
        last_second = [e for i in range(40, 75) for e in trade(i, now - 0.9 + (i - 40) * 0.02)]
        report, w = arrive(conn, q, live, last_second, now - 3600)
        assert live.cache.held("trades") is not None
        assert_same(report, layout, metrics_config, w)
        # No trade event now: the newest trades are in the recent rows as the window's last minutes only.
        ingest_events(conn, [builders.gate_decision(gate="spread", value=5.0, threshold=8.0, direction="max",
                                                    symbol="X", trace_id="tr-g", mode="scalp", ts_event=now - 1)])
        q.refresh()
        w = window(now - 3600)
        report = live.compute(w)
        assert_same(report, layout, metrics_config, w)
        newest = report.get("trades_closed")
        assert newest is not None and "T74" in newest.evidence and "T39" not in newest.evidence
    finally:
        conn.close()
        q.close()


def test_evidence_of_open_trades_that_closed_while_the_computer_skipped_a_refresh_equals_a_recompute(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """Open trade rows are in no logged minute (they are read whole): a computer two updates behind cannot drop
    the kept ids of the open rows those updates closed by their minutes, so it looks the ids up again."""
    now = time.time()
    conn, q, live = live_over(layout, metrics_config, [opened(i, now - 100 + i) for i in range(30)])
    try:
        report = live.compute(window(now - 3600))
        first = report.get("trades_open")
        assert first is not None and "T29" in first.evidence
        for events in ([closed(i, now - 20 + i * 0.1) for i in range(20, 30)], [opened(30, now - 10)]):
            ingest_events(conn, events)  # two updates, no compute between them
            q.refresh()
        w = window(now - 3600)
        report = live.compute(w)
        assert_same(report, layout, metrics_config, w)
        still = report.get("trades_open")
        assert still is not None and "T30" in still.evidence and "T29" not in still.evidence
    finally:
        conn.close()
        q.close()


def test_a_quantile_forgets_the_minute_a_trade_left(layout: DataLayout, metrics_config: MetricsConfig) -> None:
    """Quantiles of the in-place trade views come from kept per-minute values: when a trade's close moves
    its row out of its open minute, that minute's value goes (a stale copy would shift the p95)."""
    now = time.time()

    def opened(tid: str, filled: float, ts: float) -> dict[str, Any]:
        exe = builders.execution(order_id=f"o-{tid}", side="buy", price_requested=100.0, price_filled=filled,
                                 size_requested=1.0, size_filled=1.0, fees=0.1, latency_ms=5.0)
        return builders.trade_opened(trade_id=tid, side="long", execution=exe, model_id="m", symbol="X",
                                     trace_id=f"tr-{tid}", mode="scalp", model_confidence=0.7, ts_event=ts)

    def closed(tid: str, ts: float) -> dict[str, Any]:
        return builders.trade_closed(trade_id=tid, side="long", entry_price=100.0, exit_price=101.0, size=1.0,
                                     fees=0.2, hold_seconds=60.0, exit_reason="take_profit", symbol="X",
                                     trace_id=f"tr-{tid}", mode="scalp", ts_event=ts)

    conn = open_live_db(layout.live_db)
    ingest_events(conn, [opened("A", 100.05, now - 900), opened("B", 100.0, now - 700), closed("B", now - 600)])
    q = QueryLayer(layout)
    live = MetricsComputer(q.connect(), metrics_config)
    try:
        live.compute(window(now - 3600))
        report, w = arrive(conn, q, live, [closed("A", now - 120)], now - 3600)
        assert live.cache.held("trades") is not None
        assert_same(report, layout, metrics_config, w)
    finally:
        conn.close()
        q.close()


def test_a_window_starting_earlier_within_the_same_minute_rebuilds_the_kept_quantiles(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """The window's first partial minute is read from the kept rows of that minute, which hold the rows from the
    earliest start they were read for: a start earlier in the same minute must read the rows before it again."""
    now = time.time()
    minute_start = (now - 600) // 60 * 60
    closes = [minute_start + 5 + 10 * i for i in range(5)] + [now - 300, now - 200]
    holds = [10.0 * (i + 1) for i in range(len(closes))]  # a different hold each
    conn, q, live = live_over(layout, metrics_config, [e for i, (t, hold) in enumerate(zip(closes, holds, strict=True))
                                                       for e in (opened(i, t - hold), closed(i, t, hold=hold))])
    metrics = ["hold_time_median_s", "hold_time_p95_s", "trades_closed"]
    try:
        for since in (minute_start + 40, minute_start + 10):
            w = window(since)
            assert_same(live.compute(w, metrics=metrics), layout, metrics_config, w, metrics)
        assert live.quantiles.last["trades"] == "rebuilt"
    finally:
        conn.close()
        q.close()


def test_a_trade_closed_ahead_of_the_clock_counts_once_the_window_reaches_its_close(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """A close logged with a time past the window's end (a clock ahead; the simulator's settled closes) changes
    a minute after the window: its partials are computed then, as no later trade event touches it again."""
    now = time.time()
    exe = builders.execution(order_id="o-1", side="buy", price_requested=100.0, price_filled=100.0, size_requested=1.0,
                             size_filled=1.0, fees=0.1, latency_ms=5.0)
    opened = builders.trade_opened(trade_id="T1", side="long", execution=exe, model_id="m", symbol="X",
                                   trace_id="tr-1", mode="scalp", model_confidence=0.7, ts_event=now - 600)
    closed = builders.trade_closed(trade_id="T1", side="long", entry_price=100.0, exit_price=103.0, size=1.0,
                                   fees=0.2, hold_seconds=750.0, exit_reason="take_profit", symbol="X",
                                   trace_id="tr-1", mode="scalp", ts_event=now + 150)

    def until(end: float) -> Window:
        return Window(label="w", since=datetime.fromtimestamp(now - 3600, UTC), until=datetime.fromtimestamp(end, UTC))

    conn = open_live_db(layout.live_db)
    ingest_events(conn, [opened])
    q = QueryLayer(layout)
    live = MetricsComputer(q.connect(), metrics_config)
    try:
        live.compute(until(now + 1))
        ingest_events(conn, [closed])
        q.refresh()
        assert live.compute(until(now + 1)).value("trades_closed") == 0
        report = live.compute(until(now + 400))
        assert live.cache.held("trades") is not None
        assert report.value("trades_closed") == 1
        assert_same(report, layout, metrics_config, until(now + 400))
    finally:
        conn.close()
        q.close()


def test_a_shadow_trades_events_change_no_kept_latency_row_and_a_trades_open_does(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """Kept latency rows read `trades` only: a shadow trade's open and close leave its trace's minute unchanged (each
    close recomputed a minute of signals as old as the hold otherwise); a trade's fill changes its trace's row."""
    now = time.time()
    exe = builders.execution(order_id="o-2", side="buy", price_requested=100.0, price_filled=100.0, size_requested=1.0,
                             size_filled=1.0, fees=0.1, latency_ms=5.0)
    first = [signal(1, now - 1200), gate(1, now - 1199.9), signal(2, now - 900), gate(2, now - 899.9),
             builders.shadow_trade_opened(shadow_id="sh-1", side="long", entry_price=100.0, size=1.0,
                                          blocked_by=["spread"], symbol="X", trace_id="tr-1", mode="scalp",
                                          ts_event=now - 1199.8)]
    conn, q, live = live_over(layout, metrics_config, first)
    try:
        live.compute(window(now - 3600))
        closed = builders.shadow_trade_closed(shadow_id="sh-1", side="long", entry_price=100.0, exit_price=99.0,
                                              size=1.0, hold_seconds=1190.0, exit_reason="stop_loss",
                                              blocked_by=["spread"], symbol="X", trace_id="tr-1", mode="scalp",
                                              ts_event=now - 10)
        report, w = arrive(conn, q, live, [closed], now - 3600)
        assert live.cache.last["trace_latency"] == "incremental"
        assert live.cache.trace_latency.changed == []
        assert_same(report, layout, metrics_config, w)
        fill = builders.trade_opened(trade_id="T2", side="long", execution=exe, model_id="m", symbol="X",
                                     trace_id="tr-2", mode="scalp", model_confidence=0.7, ts_event=now - 5)
        report, w = arrive(conn, q, live, [fill], now - 3600)
        assert live.cache.trace_latency.changed == [int((now - 900) * 1e6) // 60_000_000]
        assert report.value("take_rate_pct") == 50.0
        assert_same(report, layout, metrics_config, w)
    finally:
        conn.close()
        q.close()


def test_a_trades_close_changes_its_traces_kept_latency_rows_only_when_their_trade_rows_change(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """A close leaves its trace's minute alone (a kept row reads an opened trade's id, open time and fill latency),
    unless its trade has a second close (a second row) or an open on another trace (both change). A close without an
    open is no fill: its trace is not taken, as in the derived source (its trades opened in the window)."""
    now = time.time()
    exe = builders.execution(order_id="o", side="buy", price_requested=100.0, price_filled=100.0, size_requested=1.0,
                             size_filled=1.0, fees=0.1, latency_ms=5.0)

    def opened(trade: str, i: int, ts: float) -> dict[str, Any]:
        return builders.trade_opened(trade_id=trade, side="long", execution=exe, model_id="m", symbol="X",
                                     trace_id=f"tr-{i}", mode="scalp", model_confidence=0.7, ts_event=ts)

    def closed(trade: str, i: int, ts: float) -> dict[str, Any]:
        return builders.trade_closed(trade_id=trade, side="long", entry_price=100.0, exit_price=101.0, size=1.0,
                                     fees=0.2, hold_seconds=60.0, exit_reason="take_profit", symbol="X",
                                     trace_id=f"tr-{i}", mode="scalp", ts_event=ts)

    def minute_of(ts: float) -> int:
        return int(ts * 1e6) // 60_000_000

    starts = {i: now - 2400 + 300 * i for i in range(1, 5)}  # four traces, five minutes apart
    first = [e for i, ts in starts.items() for e in (signal(i, ts), gate(i, ts + 0.1))]
    first += [opened("T1", 1, starts[1] + 0.2), opened("T3", 3, starts[3] + 0.2)]
    conn, q, live = live_over(layout, metrics_config, first)
    try:
        live.compute(window(now - 3600))
        steps = [
            ([closed("T1", 1, now - 20)], []),  # its open is on its trace: no row changes
            ([closed("T2", 2, now - 15)], []),  # no open: no fill
            ([closed("T3", 4, now - 10)], [starts[3], starts[4]]),  # opened on tr-3, closed on tr-4: both
            ([closed("T1", 1, now - 5)], [starts[1]]),  # a second close: a second row
            ([opened("T2", 1, now - 2)], [starts[1], starts[2]]),  # T2's open at last: its row (on tr-2) is a fill
        ]
        for events, changed in steps:
            report, w = arrive(conn, q, live, events, now - 3600)
            assert live.cache.last["trace_latency"] == "incremental"
            assert live.cache.trace_latency.changed == sorted(minute_of(ts) for ts in changed)
            assert_same(report, layout, metrics_config, w)
    finally:
        conn.close()
        q.close()


def test_kept_latency_evidence_with_signals_without_a_trace_equals_a_recompute(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """A signal logged without a trace id has a latency row without an id: no evidence (a top-n of ids skips NULLs),
    and never replaced by a later update (no trace names it). A mode of such rows only has rows and no ids."""
    now = time.time()

    def untraced(i: int, ts: float) -> dict[str, Any]:
        event = signal(1000 + i, ts)
        event["trace_id"], event["mode"] = None, "runner"
        return event

    first = [e for i in range(30) for e in (signal(i, now - 600 + i), gate(i, now - 600 + i + 0.1))]
    first += [untraced(i, now - 300 + i) for i in range(5)]
    conn, q, live = live_over(layout, metrics_config, first)
    try:
        w = window(now - 3600)
        assert_same(live.compute(w), layout, metrics_config, w)
        for events in ([gate(29, now - 30), untraced(5, now - 20), signal(40, now - 10)],
                       [gate(40, now - 5), untraced(6, now - 4)]):
            report, w = arrive(conn, q, live, events, now - 3600)
            assert live.cache.last["trace_latency"] == "incremental"
            assert_same(report, layout, metrics_config, w)
    finally:
        conn.close()
        q.close()


def test_a_last_gate_before_the_window_start_reads_as_none_in_kept_latency_quantiles(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """A trace's last gate logged before its signal: once the window starts between them, the gate is not in the
    window and the trace's signal-to-decision latency is NULL there, not the value kept from a wider window."""
    now = time.time()
    conn = open_live_db(layout.live_db)
    ingest_events(conn, [gate(1, now - 900), signal(1, now - 600)]
                  + [e for i in range(2, 8) for e in (signal(i, now - 500 + i), gate(i, now - 499.9 + i))])
    q = QueryLayer(layout)
    live = MetricsComputer(q.connect(), metrics_config)
    try:
        live.compute(window(now - 3600))
        report, w = arrive(conn, q, live, [signal(9, now - 100), gate(9, now - 99.5)], now - 3600)
        assert live.quantiles.last["trace_latency"] == "advanced"
        assert_same(report, layout, metrics_config, w)
        w = window(now - 700)  # after the gate of tr-1, before its signal
        report = live.compute(w)
        assert_same(report, layout, metrics_config, w)
        assert report.value("latency_signal_to_decision_p95_ms") is not None
    finally:
        conn.close()
        q.close()


def test_a_trace_whose_last_gate_came_before_its_signal_logged_after_the_first_refresh_is_read_as_none(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """Kept latency rows whose gate (or trade) came before their signal are counted as they come and go (the
    window checks them only while there are any): logged after the first refresh, such a trace still reads
    with no gate in a window starting between them."""
    now = time.time()
    conn = open_live_db(layout.live_db)
    ingest_events(conn, [e for i in range(2, 8) for e in (signal(i, now - 500 + i), gate(i, now - 499.9 + i))])
    q = QueryLayer(layout)
    live = MetricsComputer(q.connect(), metrics_config)
    try:
        live.compute(window(now - 3600))
        ingest_events(conn, [gate(1, now - 900), signal(1, now - 600)])
        q.refresh()
        w = window(now - 3600)
        assert_same(live.compute(w), layout, metrics_config, w)
        assert live.cache.last["trace_latency"] == "incremental"
        w = window(now - 700)  # after the gate of tr-1, before its signal
        assert_same(live.compute(w), layout, metrics_config, w)
    finally:
        conn.close()
        q.close()


def test_daily_pnl_of_a_live_window_from_its_kept_closes_equals_a_recompute_across_days_and_modes(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """The daily series of a live window is built from the kept closes' sums per mode and UTC day: closes on
    three days in both modes, half a second from midnight (a loss among them, a day of one mode only), give the
    recompute's Sharpe, Sortino and daily figures."""
    now = time.time()
    midnight = now - now % 86400  # today's, UTC: closes on either side of the last two midnights
    closes = [(1, "scalp", midnight - 86400.5, 103.0), (2, "runner", midnight - 86399.5, 98.0),
              (3, "scalp", midnight - 0.5, 101.0), (4, "scalp", midnight + 0.5, 97.5),
              (5, "runner", midnight - 40000, 104.0)]
    exe = builders.execution(order_id="o", side="buy", price_requested=100.0, price_filled=100.0, size_requested=1.0,
                             size_filled=1.0, fees=0.1, latency_ms=5.0)
    events = []
    for i, mode, ts, price in closes:
        events.append(builders.trade_opened(trade_id=f"T{i}", side="long", execution=exe, model_id="m", symbol="X",
                                            trace_id=f"tr-{i}", mode=mode, model_confidence=0.6, ts_event=ts - 60))
        events.append(builders.trade_closed(trade_id=f"T{i}", side="long", entry_price=100.0, exit_price=price,
                                            size=1.0, fees=0.2, hold_seconds=60.0, exit_reason="timeout",
                                            symbol="X", trace_id=f"tr-{i}", mode=mode, ts_event=ts))
    conn = open_live_db(layout.live_db)
    ingest_events(conn, events[:6])
    q = QueryLayer(layout)
    live = MetricsComputer(q.connect(), metrics_config)
    daily = ["sharpe_daily", "sortino_daily", "daily_pnl_avg_usdt", "days_positive_pct", "trades_closed"]
    try:
        live.compute(window(now - 3 * 86400), metrics=daily)
        ingest_events(conn, events[6:])
        q.refresh()
        w = window(now - 3 * 86400)
        report = live.compute(w, metrics=daily)
        assert live.cache.last["trades"] == "in_place"
        assert report.value("trades_closed") == 5
        assert_same(report, layout, metrics_config, w, metrics=daily)
    finally:
        conn.close()
        q.close()


def test_a_quantile_of_a_non_double_expression_is_aggregated_from_the_rows_beside_kept_ones(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """Only DOUBLE values are kept (quantile_cont interpolates in its argument's type): an integer one is left to
    DuckDB over the rows, and the DOUBLE quantiles of the same view, read together, stay kept from refresh to
    refresh instead of being rebuilt each time the other one is planned again."""
    specs = dict(metrics_config.metrics)
    specs["hold_p50_whole_s"] = MetricSpec(label="Hold p50 (whole s)", view="trades", where="status = 'closed'",
                                           expr="quantile_cont(CAST(hold_seconds AS BIGINT), 0.5)", unit="s")
    config = metrics_config.model_copy(update={"metrics": specs})
    now = time.time()
    events: list[dict[str, Any]] = list(generate_events(seed=6, sim_seconds=600, events_per_second=8.0,
                                                        start_ts=now - 700, settle=True))
    conn = open_live_db(layout.live_db)
    ingest_events(conn, events[:3000])
    q = QueryLayer(layout)
    live = MetricsComputer(q.connect(), config)
    try:
        live.compute(window(now - 3600))
        report, w = arrive(conn, q, live, events[3000:], now - 3600)
        assert live.quantiles.last["trades"] == "advanced"
        assert report.value("hold_p50_whole_s") is not None
        assert_same(report, layout, config, w)
    finally:
        conn.close()
        q.close()


def test_the_kept_equity_curve_equals_a_recompute_through_many_refreshes_late_closes_and_a_new_mode(
    layout: DataLayout, metrics_config: MetricsConfig
) -> None:
    """The kept closes carry their modes, close times and P&L as arrays beside the rows: through more refreshes
    than the rows keep chunks, a close older than the kept ones (re-sorted), a trade that closes twice (replaced),
    and a mode first seen after the others, the curve, the metrics read from its folded arrays (and their evidence),
    a filtered one computed by SQL over the curve's rows, and the daily sums equal a recompute."""
    now = time.time()
    exe = builders.execution(order_id="o", side="buy", price_requested=100.0, price_filled=100.0, size_requested=1.0,
                             size_filled=1.0, fees=0.1, latency_ms=5.0)

    def trade(i: int, mode: str, closed_at: float, price: float) -> list[dict[str, Any]]:
        opened = builders.trade_opened(trade_id=f"T{i}", side="long", execution=exe, model_id="m", symbol="X",
                                       trace_id=f"tr-{i}", mode=mode, model_confidence=0.6, ts_event=closed_at - 60)
        close = builders.trade_closed(trade_id=f"T{i}", side="long", entry_price=100.0, exit_price=price, size=1.0,
                                      fees=0.2, hold_seconds=60.0, exit_reason="timeout", symbol="X",
                                      trace_id=f"tr-{i}", mode=mode, ts_event=closed_at)
        return [opened, close]

    specs = dict(metrics_config.metrics)  # a form not read from the arrays: its group is SQL's, beside theirs
    specs["loss_drawdown_usdt"] = MetricSpec(label="Max drawdown at losing closes", view="equity", where="pnl_net < 0",
                                           expr="max(drawdown)", unit="USDT")
    config = metrics_config.model_copy(update={"metrics": specs})
    metrics = ["max_drawdown_usdt", "equity_end_usdt", "loss_drawdown_usdt", "sharpe_daily", "daily_pnl_avg_usdt",
               "pnl_net_usdt"]
    conn = open_live_db(layout.live_db)
    ingest_events(conn, trade(0, "scalp", now - 3000, 101.0))
    q = QueryLayer(layout)
    live = MetricsComputer(q.connect(), config)
    try:
        live.compute(window(now - 86400), metrics=metrics)
        batches = [trade(i, "scalp" if i % 3 else "runner", now - 2900 + 10 * i, 100.0 + (i % 7) - 3)
                   for i in range(1, 40)]
        batches[20] = trade(20, "scalp", now - 2950, 95.0)  # closes before every kept close
        batches[30] = trade(5, "runner", now - 1000, 110.0)[1:]  # T5 closes again, later
        batches.append(trade(40, "none", now - 100, 99.0) + trade(41, "none", now - 90, 97.0))
        for batch in batches:
            ingest_events(conn, batch)
            q.refresh()
            w = window(now - 86400)
            report = live.compute(w, metrics=metrics)
        assert live.cache.last["trades"] == "in_place"
        assert report.value("pnl_net_usdt", scope="none") == pytest.approx(-4.4)
        assert_same(report, layout, config, w, metrics=metrics)
    finally:
        conn.close()
        q.close()
