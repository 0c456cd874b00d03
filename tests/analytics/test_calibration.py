"""Model confidence is the probability that the signal's SIDE is right, so its calibration is judged
against the direction of the trade (gross P&L > 0), not against profit after fees: fees are not the
model's error. Hand-computed on two trades whose fees turn a right call into a net loss."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from observability.analytics.insight_aggregator import InsightSettings, insights
from observability.analytics.learning_tracker import results_by_model
from observability.analytics.metrics_computer import MetricsComputer
from observability.analytics.windows import Window
from observability.core import builders
from observability.core.ingest import ingest_events
from observability.core.io.query import QueryLayer
from observability.core.live_store import open_live_db
from observability.paths import DataLayout

T0 = datetime(2026, 1, 5, 12, tzinfo=UTC).timestamp()
WINDOW = Window(label="1d", since=datetime(2026, 1, 5, tzinfo=UTC), until=datetime(2026, 1, 6, tzinfo=UTC))
# (trade id, confidence, exit price, fees): entry 100, size 1, long
TRADES = [("RIGHT", 0.6, 100.1, 0.2),  # direction right (+0.1 gross), net -0.1 after fees
          ("WRONG", 0.6, 99.0, 0.2)]  # direction wrong (-1.0 gross)


@pytest.fixture
def con(layout: DataLayout) -> duckdb.DuckDBPyConnection:
    layout.ensure()
    events = []
    for i, (tid, conf, exit_, fees) in enumerate(TRADES):
        exe = builders.execution(order_id=f"o{i}", side="buy", price_requested=100.0, price_filled=100.0,
                                 size_requested=1.0, size_filled=1.0, fees=fees / 2)
        events += [builders.trade_opened(trade_id=tid, side="long", execution=exe, model_id="m1", symbol="X",
                                         trace_id=f"tr-{tid}", mode="scalp", model_confidence=conf,
                                         ts_event=T0 + i),
                   builders.trade_closed(trade_id=tid, side="long", entry_price=100.0, exit_price=exit_, size=1.0,
                                         fees=fees, hold_seconds=60.0, exit_reason="timeout", symbol="X",
                                         trace_id=f"tr-{tid}", mode="scalp", ts_event=T0 + 60 + i)]
    conn = open_live_db(layout.live_db)
    ingest_events(conn, events)
    conn.close()
    return QueryLayer(layout).connect()


BRIER = ((0.6 - 1) ** 2 + (0.6 - 0) ** 2) / 2  # 0.26: one right call, one wrong


def test_brier_and_calibration_gap_judge_the_direction(con: duckdb.DuckDBPyConnection) -> None:
    report = MetricsComputer(con).compute(WINDOW, metrics=["brier_score", "calibration_gap_pct",
                                                           "calibration_bucket_win_rate", "win_rate"])
    assert report.value("brier_score") == pytest.approx(BRIER)
    assert report.value("calibration_gap_pct") == pytest.approx(100 * (0.6 - 0.5))
    assert report.value("calibration_bucket_win_rate", group="0.6") == pytest.approx(50.0)
    assert report.value("win_rate") == pytest.approx(0.0)  # the P&L win rate stays net of fees


def test_model_results_and_insight_use_the_same_calibration(con: duckdb.DuckDBPyConnection) -> None:
    [m1] = results_by_model(con, WINDOW)
    assert m1.brier == pytest.approx(BRIER) and m1.win_rate_pct == pytest.approx(0.0)
    found = [f for f in insights(con, WINDOW, InsightSettings(min_trades=1, calibration_gap_pct=5.0)).findings
             if f.kind == "miscalibrated_model"]
    [f] = found
    assert f.numbers["gap_pct"][0] == pytest.approx(10.0) and f.numbers["brier"][0] == pytest.approx(BRIER)
