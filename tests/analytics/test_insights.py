"""Insight detectors on the fixed data set (and a small slippage scenario), numbers by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb
import pytest

from observability.analytics.insight_aggregator import InsightSettings, insights
from observability.analytics.windows import Window
from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.io.query import QueryLayer
from observability.core.live_store import open_live_db
from observability.paths import DataLayout

LOOSE = InsightSettings(min_shadow_trades=1, min_trades=1, slippage_rise_bps=1.0)
# two days from 2026-01-06; the previous period is 2026-01-04..06 (S1, S2, R1 closed then)
LATE = Window(label="2d", since=datetime(2026, 1, 6, tzinfo=UTC), until=datetime(2026, 1, 8, tzinfo=UTC))
WEEK = Window(label="7d", since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2026, 1, 8, tzinfo=UTC))


def test_gate_whose_shadow_trades_beat_taken_trades(con: duckdb.DuckDBPyConnection) -> None:
    found = [f for f in insights(con, WEEK, LOOSE).findings if f.kind == "shadow_beats_taken"]
    # model_confidence alone blocked B3 (runner, +200 bps) against the runner trades taken, R1 +490 and
    # R2 -210 -> +140 bps; the spread shadows (scalp) average -50 bps
    [mc] = found
    assert mc.subject == "model_confidence.runner" and mc.evidence == ["B3"]
    assert mc.numbers["shadow_bps"][0] == pytest.approx(200.0)
    assert mc.numbers["taken_bps"][0] == pytest.approx(140.0)
    assert mc.score == pytest.approx(60.0)


def _long(ident: str, mode: str, bps: float, ts: float, blocked_by: list[str] | None = None) -> list[dict[str, Any]]:
    exit_ = 100.0 * (1 + bps / 10_000)
    if blocked_by is not None:
        common = {"shadow_id": ident, "side": "long", "entry_price": 100.0, "size": 1.0, "blocked_by": blocked_by,
                  "symbol": "X", "trace_id": f"tr-{ident}", "mode": mode}
        return [builders.shadow_trade_opened(**common, ts_event=ts - 60),
                builders.shadow_trade_closed(**common, exit_price=exit_, hold_seconds=60.0, exit_reason="timeout",
                                             ts_event=ts)]
    exe = builders.execution(order_id=f"o-{ident}", side="buy", price_requested=100.0, price_filled=100.0,
                             size_requested=1.0, size_filled=1.0, fees=0.0)
    return [builders.trade_opened(trade_id=ident, side="long", execution=exe, model_id="m", symbol="X",
                                  trace_id=f"tr-{ident}", mode=mode, ts_event=ts - 60),
            builders.trade_closed(trade_id=ident, side="long", entry_price=100.0, exit_price=exit_, size=1.0,
                                  fees=0.0, hold_seconds=60.0, exit_reason="timeout", symbol="X",
                                  trace_id=f"tr-{ident}", mode=mode, ts_event=ts)]


def test_shadow_finding_needs_the_gate_alone_a_profit_and_the_same_mode(layout: DataLayout) -> None:
    ts = datetime(2026, 1, 10, 12, tzinfo=UTC).timestamp()
    events = (_long("TS", "scalp", -10.0, ts) + _long("TR", "runner", 300.0, ts)
              + _long("X1", "scalp", 100.0, ts, ["spread", "liquidity"])  # loosening spread alone frees nothing
              + _long("X2", "runner", 200.0, ts, ["volatility"])  # below the runner trades taken (+300)
              + _long("X3", "scalp", -5.0, ts, ["spread"])  # beats -10 bps but would still lose money
              + _long("X4", "scalp", 50.0, ts, ["liquidity"]))
    conn = open_live_db(layout.live_db)
    ingest_events(conn, events)
    conn.close()
    q = QueryLayer(layout)
    window = Window(label="1d", since=datetime(2026, 1, 10, tzinfo=UTC), until=datetime(2026, 1, 11, tzinfo=UTC))
    found = [f for f in insights(q.connect(), window, LOOSE).findings if f.kind == "shadow_beats_taken"]
    q.close()
    [f] = found
    assert f.subject == "liquidity.scalp" and f.evidence == ["X4"]
    assert f.numbers["shadow_bps"][0] == pytest.approx(50.0)
    assert f.numbers["taken_bps"][0] == pytest.approx(-10.0)
    assert f.numbers["shadow_n"][0] == 1


def test_expectancy_drop_per_symbol_and_mode(con: duckdb.DuckDBPyConnection) -> None:
    found = {f.subject: f for f in insights(con, LATE, LOOSE).findings if f.kind == "expectancy_drop"}
    scalp = found["BTCUSDT.scalp"]  # before: S1 +180, S2 -120 -> +30; now: S3 +80, S4 -120 -> -20
    assert scalp.numbers["previous_bps"][0] == pytest.approx(30.0)
    assert scalp.numbers["expectancy_bps"][0] == pytest.approx(-20.0)
    assert scalp.numbers["drop_bps"][0] == pytest.approx(50.0)
    assert scalp.severity == "critical" and set(scalp.evidence) == {"S1", "S2", "S3", "S4"}
    runner = found["ETHUSDT.runner"]  # R1 +490 -> R2 -210
    assert runner.numbers["drop_bps"][0] == pytest.approx(700.0)


def test_overconfident_model_is_reported(con: duckdb.DuckDBPyConnection) -> None:
    [f] = [f for f in insights(con, WEEK, LOOSE).findings if f.kind == "miscalibrated_model"]
    assert f.subject == "model-a" and f.title == "Model model-a is overconfident"
    assert f.numbers["confidence_pct"][0] == pytest.approx(70.0)  # (0.8+0.7+0.65+0.6+0.9+0.55) / 6
    assert f.numbers["gap_pct"][0] == pytest.approx(20.0)


def test_logger_drops_and_dead_letters_rank_first(con: duckdb.DuckDBPyConnection) -> None:
    report = insights(con, WEEK, LOOSE)
    logger = {f.subject: f for f in report.findings if f.kind == "logger_loss"}
    assert logger["dropped"].numbers["dropped"][0] == 5 and logger["dropped"].severity == "critical"
    assert logger["dead_letters"].numbers["dead_letters"][0] == 2
    assert logger["writer_down"].numbers["writer_down"][0] == 1
    assert report.findings[0].severity == "critical"
    severities = [f.severity for f in report.findings]
    assert severities == sorted(severities, key=["critical", "warning", "info"].index)
    assert "insight.logger_loss.dropped.dropped" in {f.id for f in report.to_facts()}


def test_defaults_need_enough_samples(con: duckdb.DuckDBPyConnection) -> None:
    kinds = {f.kind for f in insights(con, WEEK).findings}
    assert "shadow_beats_taken" not in kinds and "miscalibrated_model" in kinds  # 1 shadow < 5; 6 trades >= 5


def test_slippage_drifting_up(layout: DataLayout) -> None:
    events = []
    for i, (day, filled) in enumerate([(9, 100.01), (9, 100.01), (10, 100.06), (10, 100.06)]):
        ts = datetime(2026, 1, day, 12, i, tzinfo=UTC).timestamp()
        exe = builders.execution(order_id=f"o{i}", side="buy", price_requested=100.0, price_filled=filled,
                                 size_requested=1.0, size_filled=1.0, fees=0.0)
        events.append(builders.trade_opened(trade_id=f"T{i}", side="long", execution=exe, model_id="m", symbol="X",
                                            trace_id=f"tr{i}", mode="scalp", ts_event=ts))
    conn = open_live_db(layout.live_db)
    ingest_events(conn, events)
    conn.close()
    q = QueryLayer(layout)
    window = Window(label="1d", since=datetime(2026, 1, 10, tzinfo=UTC), until=datetime(2026, 1, 11, tzinfo=UTC))
    [f] = [f for f in insights(q.connect(), window, LOOSE).findings if f.kind == "slippage_drift"]
    q.close()
    assert f.subject == "X" and set(f.evidence) == {"T2", "T3"}
    assert f.numbers["previous_bps"][0] == pytest.approx(0.01 / 100 * 10_000)
    assert f.numbers["rise_bps"][0] == pytest.approx(0.05 / 100 * 10_000)
