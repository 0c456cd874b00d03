"""A live window refreshed incrementally gives exactly what a fresh computation gives."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from observability.analytics.metrics_computer import MetricsComputer, MetricsReport
from observability.analytics.windows import Window
from observability.config.metrics_config import MetricsConfig
from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.io.query import QueryLayer
from observability.core.live_store import open_live_db
from observability.paths import DataLayout

METRICS = ["gate_decisions_total", "gate_pass_rate", "signals_total", "spread_avg_bps", "errors_total",
           "take_rate_pct", "trades_closed"]


def decisions(t0: float, values: list[float]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i, v in enumerate(values):
        trace = f"tr-{t0:.0f}-{i}"
        out.append(builders.signal_received(signal_id=trace, side="long", confidence=0.6, price=1.0, model_id="m",
                                            symbol="X", trace_id=trace, mode="scalp", ts_event=t0 + i))
        out.append(builders.gate_decision(gate="spread", value=v, threshold=8.0, direction="max", symbol="X",
                                          trace_id=trace, mode="scalp", ts_event=t0 + i + 0.1))
        out.append(builders.market_context(symbol="X", price=1.0, spread_bps=v, volatility_bps=1.0, ts_event=t0 + i))
    return out


def table(report: MetricsReport) -> dict[tuple[str, str, str | None], tuple[float | None, int]]:
    return {(v.name, v.scope, v.group): (v.value, v.n) for v in report.values}


def test_incremental_refresh_matches_a_fresh_computation(layout: DataLayout, metrics_config: MetricsConfig) -> None:
    now = time.time()
    conn = open_live_db(layout.live_db)
    ingest_events(conn, decisions(now - 300, [5.0, 9.0, 7.0]))
    q = QueryLayer(layout)
    live = MetricsComputer(q.connect(), metrics_config)
    first = live.compute(Window(label="1h", since=datetime.fromtimestamp(now - 3600, UTC),
                                until=datetime.fromtimestamp(now + 1, UTC)), metrics=METRICS)
    assert first.value("gate_decisions_total", group="spread") == 3

    ingest_events(conn, decisions(now - 30, [10.0, 2.0]))
    conn.close()
    q.refresh()
    for since_ago in (3600, 120):  # same start (append only), then a later start (rows slide out)
        window = Window(label="w", since=datetime.fromtimestamp(now - since_ago, UTC),
                        until=datetime.now(UTC) + timedelta(seconds=1))
        incremental = live.compute(window, metrics=METRICS)
        fresh_q = QueryLayer(layout)
        fresh = MetricsComputer(fresh_q.connect(), metrics_config).compute(window, metrics=METRICS)
        fresh_q.close()
        assert table(incremental) == table(fresh)
        assert live.cache.last["gate_decisions"] == "appended" and live.cache.last["trades"] == "in_place"
    assert incremental.value("gate_decisions_total", group="spread") == 2  # only the last two in 120 s
    assert incremental.value("gate_pass_rate", group="spread") == 50.0
    q.close()
